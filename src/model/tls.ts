import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * TLS between the nodes of a cluster (docs/security.md, "TLS"): the same two config sections on the controller and
 * the executor. `server.tls` makes a listener serve HTTPS; `clusterTls` says how this node verifies the HTTPS of
 * the other nodes it calls. File names (`certFile`, `keyFile`, `caFile`) are the ones the etcd store section uses.
 */

/** A listener's certificate and key, PEM files. Present: the listener serves HTTPS only. */
export const ServerTlsSchema = z.strictObject({
  /** The certificate chain this node presents, leaf first. Its names must cover the hostname peers dial. */
  certFile: z.string().min(1),
  /** The private key of the leaf certificate, unencrypted PEM (PKCS#8 or traditional). */
  keyFile: z.string().min(1),
});
export type ServerTlsConfig = z.infer<typeof ServerTlsSchema>;

/** How this node's clients verify the HTTPS of the other cluster nodes. */
export const ClusterTlsSchema = z.strictObject({
  /**
   * The CA (PEM, one or more certificates) that signs the nodes' certificates; it replaces the system roots for
   * cluster calls. Absent: the system roots (a public CA or one installed on the host).
   */
  caFile: z.string().min(1).optional(),
  /**
   * Skips certificate and hostname verification. An explicit opt-out for trials only: anyone able to answer at a
   * node's address then receives the cluster secret this node sends.
   */
  insecure: z.boolean().default(false),
});
export type ClusterTlsConfig = z.infer<typeof ClusterTlsSchema>;

export class TlsConfigError extends Error {}

/** What `https.createServer` (fastify's `https` option) needs. */
export interface ServerTlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** What undici's `connect` (tls.connect) needs to verify a peer. */
export interface PeerTlsOptions {
  ca?: Buffer;
  rejectUnauthorized: boolean;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsConfigError(`Cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

function certificatesIn(pem: Buffer, path: string, what: string): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  // Node silently ignores a CA bundle without certificates, which would make every peer look untrusted.
  if (blocks.length === 0) throw new TlsConfigError(`${what} ${path} holds no PEM certificate`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsConfigError(`${what} ${path} holds an unreadable certificate: ${(error as Error).message}`);
    }
  });
}

/**
 * Reads and checks a listener's files at start-up, so that a wrong path, a key of another certificate or a
 * passphrase-protected key is a start-up error naming the file rather than a failed handshake later.
 */
export function loadServerTls(config: ServerTlsConfig, section = 'server.tls'): ServerTlsMaterial {
  const cert = readPem(config.certFile, `${section}.certFile`);
  const key = readPem(config.keyFile, `${section}.keyFile`);
  const [leaf] = certificatesIn(cert, config.certFile, `${section}.certFile`);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsConfigError(`${section}.keyFile ${config.keyFile} is not an unencrypted PEM private key: ${(error as Error).message}`);
  }
  if (!leaf!.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(`${section}.keyFile ${config.keyFile} is not the key of the certificate in ${config.certFile}`);
  }
  return { cert, key };
}

/** Verification on unless `insecure: true` is written; the CA file is checked to hold certificates. */
export function peerTlsOptions(config: ClusterTlsConfig | undefined, section = 'clusterTls'): PeerTlsOptions {
  if (config?.insecure) return { rejectUnauthorized: false };
  if (!config?.caFile) return { rejectUnauthorized: true };
  const ca = readPem(config.caFile, `${section}.caFile`);
  certificatesIn(ca, config.caFile, `${section}.caFile`);
  return { ca, rejectUnauthorized: true };
}

/** OpenSSL/Node codes of a peer certificate that was refused (not of a network failure). */
const CERTIFICATE_ERROR_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
]);

function codeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_ERROR_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * The operator's reading of a refused peer certificate: which check failed and which option decides it. Undefined
 * when the error is not about the certificate (refused connection, timeout).
 */
export function certificateRefusal(error: unknown, section = 'clusterTls'): string | undefined {
  const code = codeOf(error);
  if (!code) return undefined;
  let detail = '';
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) detail = (e as Error).message;
  }
  const fix =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'the certificate must name the host this node dials'
      : `${section}.caFile must be the CA that signed the peer's certificate`;
  return `TLS certificate refused (${code}: ${detail}); ${fix} (${section}.insecure: true skips verification)`;
}
