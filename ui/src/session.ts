import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { ConsoleWhoAmI } from '../../src/model/console.js';
import { ApiError, api, basicAuthorization, storeAuthorization, storedAuthorization } from './api.js';

/**
 * Who is logged in (docs/console.md, "Login"). The controller's users log in with the form; the form checks the
 * user name and password against the API (`/apis/v1/console/whoami`), and only a login that works is kept, for
 * this browser tab only (sessionStorage: gone when the tab closes, never sent anywhere but in the Authorization
 * header of the console's own API calls). What the console shows follows `permissions` from the controller, and
 * the API refuses anything else anyway.
 */

export interface Session {
  whoami: ConsoleWhoAmI | undefined;
  login: (username: string, password: string) => Promise<void>;
  logout: () => void;
}

export const SessionContext = createContext<Session>({ whoami: undefined, login: async () => undefined, logout: () => undefined });

export function useSession(): Session {
  return useContext(SessionContext);
}

export function usePermissions(): ConsoleWhoAmI['permissions'] {
  return useSession().whoami?.permissions ?? { write: false, maintenance: false, logs: false };
}

export const WHOAMI_PATH = '/apis/v1/console/whoami';

/** The stored login, if it still works; undefined when the user must log in (or nobody needs to). */
export async function resumeSession(): Promise<ConsoleWhoAmI | 'login'> {
  const authorization = storedAuthorization();
  try {
    // Without stored credentials, a controller without user authentication still answers (every caller is root).
    return await api<ConsoleWhoAmI>('GET', WHOAMI_PATH, authorization ? { authorization } : { authorization: '' });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      storeAuthorization(undefined);
      return 'login';
    }
    throw error;
  }
}

/** Checks the credentials; keeps them only when the controller accepts them. */
export async function checkLogin(username: string, password: string): Promise<ConsoleWhoAmI> {
  const authorization = basicAuthorization(username, password);
  try {
    const whoami = await api<ConsoleWhoAmI>('GET', WHOAMI_PATH, { authorization });
    storeAuthorization(authorization);
    return whoami;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw new ApiError(401, 'Wrong user name or password');
    if (error instanceof ApiError && error.status === 429) throw new ApiError(429, 'Too many login attempts from this address: wait a minute and try again');
    throw error;
  }
}
