// Types of scripts/prepare.mjs for the TypeScript test harness (test/support).
export const root: string;
export const mainJs: string;
export class PrepareError extends Error {}
export function log(message: string): void;
export function buildIsStale(): boolean;
export function buildConsole(options?: { outDir?: string }): void;
export function ensureBuild(options?: { force?: boolean }): void;
export function ensureDependencies(): void;
export function ensureDocker(): Promise<void>;
export function ensureImages(): void;
export const checks: ReadonlyArray<{ name: string; tool: string; script: string; args: string[] }>;
export function runChecks(): void;
export function dockerIsUp(): boolean;
export function ensureRegistry(): void;
export const chromiumPath: string;
export function ensureChromium(): void;
export function ensurePrometheus(): void;
