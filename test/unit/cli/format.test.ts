import { describe, expect, test } from 'vitest';
import { formatDate, keyValues, pyJsonDumps, pyList, table, thousands } from '../../../src/cli/format.js';

/** Output must match the Python drove CLI byte for byte (samples of its output, TZ=UTC). */

process.env.TZ = 'UTC';

describe('table (tabulate "simple")', () => {
  test('localservices list sample', () => {
    const out = table(
      ['Id', 'Name', 'State', 'Activation State', 'Total CPU', 'Total Memory(MB)', 'Instances Per Host', 'Healthy Instances', 'Created', 'Updated'],
      [['TEST_LOCAL_SERVICE-1', 'TEST_LOCAL_SERVICE', 'ACTIVE', 'ACTIVE', 1, 128, 1, 1, formatDate(1714000000000), formatDate(1714000004000)]],
    );
    expect(out).toBe(
      [
        'Id                    Name                State    Activation State      Total CPU    Total Memory(MB)    Instances Per Host    Healthy Instances  Created               Updated',
        '--------------------  ------------------  -------  ------------------  -----------  ------------------  --------------------  -------------------  --------------------  --------------------',
        'TEST_LOCAL_SERVICE-1  TEST_LOCAL_SERVICE  ACTIVE   ACTIVE                        1                 128                     1                    1  24/04/2024, 23:06:40  24/04/2024, 23:06:44',
      ].join('\n'),
    );
  });

  test('lsinstances list sample (empty error message column)', () => {
    const out = table(
      ['Instance ID', 'Executor Host', 'Ports', 'State', 'Error Message', 'Created', 'Last Updated'],
      [['SI-0b6d1f1e-6a9b-4f55-9d2d-6f4c1d7e5a10', 'ex1.local', 'main:40123', 'HEALTHY', '', formatDate(1714000005000), formatDate(1714000020000)]],
    );
    expect(out).toBe(
      [
        'Instance ID                              Executor Host    Ports       State    Error Message    Created               Last Updated',
        '---------------------------------------  ---------------  ----------  -------  ---------------  --------------------  --------------------',
        'SI-0b6d1f1e-6a9b-4f55-9d2d-6f4c1d7e5a10  ex1.local        main:40123  HEALTHY                   24/04/2024, 23:06:45  24/04/2024, 23:07:00',
      ].join('\n'),
    );
  });

  test('executor list sample and empty table', () => {
    const out = table(
      ['Executor ID', 'Host', 'Port', 'Transport', 'Free Cores', 'Used Cores', 'Free Memory (MB)', 'Used Memory (MB)', 'Tags', 'State'],
      [['46282eb4-861a-3afa-b202-8353e3f57ed7', 'ex1.local', 3000, 'HTTP', 7, 1, 15104, 128, pyList(['ex1.local']), 'ACTIVE']],
    );
    expect(out).toBe(
      [
        'Executor ID                           Host         Port  Transport      Free Cores    Used Cores    Free Memory (MB)    Used Memory (MB)  Tags           State',
        '------------------------------------  ---------  ------  -----------  ------------  ------------  ------------------  ------------------  -------------  -------',
        "46282eb4-861a-3afa-b202-8353e3f57ed7  ex1.local    3000  HTTP                    7             1               15104                 128  ['ex1.local']  ACTIVE",
      ].join('\n'),
    );
    expect(table(['Instance ID', 'App name', 'App ID', 'CPU'], [])).toBe(
      'Instance ID    App name    App ID    CPU\n-------------  ----------  --------  -----',
    );
  });
});

describe('key/value dump', () => {
  test('localservices summary sample', () => {
    expect(
      keyValues({
        id: 'TEST_LOCAL_SERVICE-1',
        name: 'TEST_LOCAL_SERVICE',
        instancesPerHost: 1,
        tags: { superSpecialApp: 'yes_i_am' },
        empty: {},
        files: ['output.log'],
        flag: true,
        created: 1714000000000,
      }),
    ).toBe(
      [
        'id                            TEST_LOCAL_SERVICE-1',
        'name                          TEST_LOCAL_SERVICE',
        'instancesPerHost              1',
        'tags',
        '    superSpecialApp               yes_i_am',
        'empty                         {}',
        "files                         ['output.log']",
        'flag                          True',
        'created                       1714000000000',
      ].join('\n'),
    );
  });
});

describe('helpers', () => {
  test('dates, thousands, json.dumps spacing', () => {
    expect(formatDate(1714000020000)).toBe('24/04/2024, 23:07:00');
    expect(thousands(15232)).toBe('15,232');
    expect(thousands(128)).toBe('128');
    expect(pyJsonDumps({ EXECUTOR_ID: 'x', PORT: 3000 })).toBe('{"EXECUTOR_ID": "x", "PORT": 3000}');
  });

  test('a value that is not what the column expects prints as JSON, never as "[object Object]"', () => {
    expect(formatDate({ epoch: 1 })).toBe('{"epoch":1}');
    expect(formatDate('soon')).toBe('soon');
    expect(pyList([{ a: 1 }, 2, true, null])).toBe('[{"a":1}, 2, True, None]');
  });
});

describe('sortRows', () => {
  test('sorts by raw column values (dates by time), reverse flips', async () => {
    const { sortRows } = await import('../../../src/cli/format.js');
    const rows = [['b', 2000], ['a', 30000], ['c', 100]];
    expect(sortRows(rows, (r) => r[1], false).map((r) => r[0])).toEqual(['c', 'b', 'a']);
    expect(sortRows(rows, (r) => r[0], true).map((r) => r[0])).toEqual(['c', 'b', 'a']);
  });

  test('object values sort by their JSON text', async () => {
    const { sortRows } = await import('../../../src/cli/format.js');
    const rows = [['second', { name: 'b' }], ['first', { name: 'a' }]];
    expect(sortRows(rows, (r) => r[1], false).map((r) => r[0])).toEqual(['first', 'second']);
  });
});
