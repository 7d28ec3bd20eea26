import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Certificates made at test time with Debian's openssl: a CA per trust domain and leaf certificates it signs for
 * the names a test needs. EC P-256 keys: generated in milliseconds, accepted by Node's TLS defaults.
 */

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface TestCa extends CertFiles {
  name: string;
  dir: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

export function makeCa(dir: string, name: string): TestCa {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { name, dir, certFile, keyFile };
}

/** A server certificate signed by `ca` for `names` (DNS names and IP addresses, as subjectAltName entries). */
export function makeLeaf(ca: TestCa, name: string, names: string[]): CertFiles {
  const keyFile = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const certFile = join(ca.dir, `${name}.crt`);
  const ext = join(ca.dir, `${name}.ext`);
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  openssl([
    'x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', '2',
    '-out', certFile, '-extfile', ext,
  ]);
  return { certFile, keyFile };
}

export function pem(files: CertFiles): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
}
