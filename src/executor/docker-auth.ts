import { z } from 'zod';
import { strict } from '../model/index.js';
import type { RegistryAuth } from './runtime/runtime.js';

/**
 * Private registries: executor config `dockerAuth`, in Drove's shape (its executor's `dockerauth` package):
 *
 *   dockerAuth:
 *     entries:
 *       registry.example.com:5000:   # the registry host, as images name it
 *         type: CREDENTIALS          # Drove's only type
 *         username: puller
 *         password: ...
 *
 * The entry of an image's registry is sent with every pull of that image (docs/drove-config.md, "dockerAuth").
 */

const DOCKER_HUB = 'docker.io';
/** The names Docker Hub goes by in docker's own config files and in image references. */
const DOCKER_HUB_NAMES = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** What the docker CLI sends as the server address of Docker Hub credentials. */
const DOCKER_HUB_SERVER_ADDRESS = 'https://index.docker.io/v1/';

const DOCKER_AUTH_TYPES = ['CREDENTIALS'] as const;

const DockerAuthEntrySchema = strict.object({
  type: z.enum(DOCKER_AUTH_TYPES, {
    error: (issue) =>
      issue.input === undefined
        ? 'is required: CREDENTIALS (username and password), the only type Drove has'
        : `unsupported type ${JSON.stringify(issue.input)}: drove-ts, like Drove, supports only CREDENTIALS (username and password)`,
  }),
  username: z.string().min(1, { error: 'must not be empty' }),
  password: z.string().min(1, { error: 'must not be empty' }),
});

export const DockerAuthSchema = strict
  .object({ entries: z.record(z.string(), DockerAuthEntrySchema) })
  .superRefine((config, context) => {
    const seen = new Map<string, string>();
    const keys = Object.keys(config.entries);
    // Drove: @NotEmpty entries.
    if (keys.length === 0) context.addIssue({ code: 'custom', path: ['entries'], message: 'must name at least one registry' });
    for (const key of keys) {
      const registry = registryKey(key);
      if (!registry) {
        context.addIssue({
          code: 'custom',
          path: ['entries', key],
          message: 'is not a registry host: give host or host:port as images name it (registry.example.com:5000, docker.io for Docker Hub)',
        });
      } else if (seen.has(registry)) {
        context.addIssue({ code: 'custom', path: ['entries', key], message: `names the same registry as entry ${JSON.stringify(seen.get(registry))}` });
      } else {
        seen.set(registry, key);
      }
    }
  });
export type DockerAuthConfig = z.infer<typeof DockerAuthSchema>;

/**
 * The registry an entry key names: `host[:port]`, lowercased, Docker Hub's names as `docker.io`. A scheme and a
 * path are allowed and dropped, so a key copied from docker's config.json (`https://index.docker.io/v1/`) works.
 */
export function registryKey(key: string): string | undefined {
  const host = key.trim().toLowerCase().replace(/^https?:\/\//, '').split('/')[0]!;
  const name = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(host) || /^\[[0-9a-f:.]+\](:\d{1,5})?$/.test(host);
  if (!name) return undefined;
  return DOCKER_HUB_NAMES.has(host) ? DOCKER_HUB : host;
}

/**
 * The registry an image is pulled from, by Docker's own rule: the first path component is a registry host when it
 * has a `.` or a `:`, is `localhost`, or has upper case letters; otherwise (`nginx:1`, `prom/node-exporter`) the
 * image is on Docker Hub. (Drove looks up whatever comes before the first `/`, so Hub images never matched.)
 */
export function registryOfImage(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
  return isHost ? (registryKey(first) ?? first.toLowerCase()) : DOCKER_HUB;
}

export interface PullCredentials {
  /** The registry the image comes from, for messages and logs. */
  registry: string;
  /** The dockerAuth entry key as the config wrote it. */
  entry: string;
  auth: RegistryAuth;
}

/** Finds the credentials for each pull: the entry of the image's registry, or none. */
export class DockerAuth {
  private readonly byRegistry = new Map<string, { entry: string; username: string; password: string }>();

  constructor(config: DockerAuthConfig | undefined) {
    for (const [entry, value] of Object.entries(config?.entries ?? {})) {
      const registry = registryKey(entry);
      if (registry) this.byRegistry.set(registry, { entry, username: value.username, password: value.password });
    }
  }

  /** The registries that have credentials (never the credentials: this goes to logs). */
  registries(): string[] {
    return [...this.byRegistry.keys()];
  }

  credentialsFor(image: string): PullCredentials | undefined {
    const registry = registryOfImage(image);
    const found = this.byRegistry.get(registry);
    if (!found) return undefined;
    const serveraddress = registry === DOCKER_HUB ? DOCKER_HUB_SERVER_ADDRESS : registry;
    return { registry, entry: found.entry, auth: { username: found.username, password: found.password, serveraddress } };
  }
}

/**
 * A pull error that says the registry refused the caller: wrong or expired credentials, or no permission on the
 * repository. Registries word it differently (distribution: "unauthorized: authentication required", Docker Hub:
 * "incorrect username or password", Harbor, GCR and ECR: "denied: ..."), so the common words are matched.
 */
export function isCredentialRefusal(message: string): boolean {
  return /\bunauthorized\b|\bdenied\b|authentication required|incorrect username or password|no basic auth credentials/i.test(message);
}
