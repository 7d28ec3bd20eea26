import { createHmac } from 'node:crypto';
import { nameUuid } from '../../../model/index.js';

/**
 * The instance JWT handed to every container in `DROVE_APP_INSTANCE_AUTH_TOKEN`
 * (docs/design/api-compatibility.md#authentication): HS256 with
 * `instanceAuth.secret`, issuer `drove`, audience `drove-application-instance`, subject `drove-controller`,
 * claims naming the service (as `droveAppId`), instance and executor, jti = name-UUID of the three, and (beyond
 * Drove) `exp`, `lifetimeMs` after issue: the controller refuses it afterwards.
 */
export const INSTANCE_TOKEN_ISSUER = 'drove';
export const INSTANCE_TOKEN_AUDIENCE = 'drove-application-instance';
export const INSTANCE_TOKEN_SUBJECT = 'drove-controller';

export function instanceAuthToken(
  secret: string,
  claims: { serviceId: string; instanceId: string; executorId: string },
  nowMs: number,
  lifetimeMs: number,
): string {
  const header = { alg: 'HS256', typ: 'JWT' };
  const payload = {
    iss: INSTANCE_TOKEN_ISSUER,
    aud: INSTANCE_TOKEN_AUDIENCE,
    sub: INSTANCE_TOKEN_SUBJECT,
    iat: Math.floor(nowMs / 1000),
    exp: Math.floor((nowMs + lifetimeMs) / 1000),
    jti: nameUuid(`${claims.serviceId}:${claims.instanceId}:${claims.executorId}`),
    droveAppId: claims.serviceId,
    droveInstanceId: claims.instanceId,
    droveExecutorId: claims.executorId,
  };
  const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${signature}`;
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
