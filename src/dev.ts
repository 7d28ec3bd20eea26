import type { Command } from 'commander';

// Placeholder so the binary links while this part is being built; replaced by its owner.
export function registerDevCommand(_program: Command): void {}
