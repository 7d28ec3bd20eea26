import type { DroveCompatibility } from '../model/config-compat.js';
import { DROPWIZARD_UNSUPPORTED, dropwizardConnectors, dropwizardLogging } from '../model/dropwizard-config.js';

/**
 * Drove's controller config (its AppConfig, ControllerOptions) read into drove-ts's keys. `options`,
 * `clusterAuth`, `instanceAuth` and `userAuth` already have Drove's names; what differs is the Dropwizard part and
 * what drove-ts does not have. The table in docs/drove-config.md lists every key; keep the two in step (a unit
 * test checks that every key here is in the document).
 */
export const CONTROLLER_DROVE_COMPATIBILITY: DroveCompatibility = {
  steps: [dropwizardConnectors, dropwizardLogging],
  aliases: [],
  unsupported: {
    ...DROPWIZARD_UNSUPPORTED,
    zookeeper: 'cluster state is kept in "store:" (sqlite, or etcd for several controllers)',
    'options.staleAppAge': 'it ages Drove applications, and only local services run here (see options.staleServiceAge); remove it',
    'options.staleTaskAge': 'it ages Drove tasks, and only local services run here; remove it',
    'options.compiledRuleCacheCount': 'there are no placement rules (local services run on every executor); remove it',
    'options.allowedRuleImportPackages': 'there are no placement rules (local services run on every executor); remove it',
    olympusIM: 'users log in with userAuth (PLAIN or CRYPT) only',
  },
};
