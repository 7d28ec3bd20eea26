import type { Command } from 'commander';

// Placeholder so the binary links while this part is being built; replaced by its owner.
export function registerControllerCommand(_program: Command): void {}
