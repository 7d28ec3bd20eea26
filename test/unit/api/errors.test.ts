import { describe, expect, test } from 'vitest';
import { ApiError } from '../../../src/controller/api/errors.js';

describe('ApiError', () => {
  test('its message is the envelope message; one that is not a string is shown as JSON', () => {
    expect(new ApiError(400, { status: 'FAILED', message: 'Bad input' }).message).toBe('Bad input');
    expect(new ApiError(400, 'plain text').message).toBe('plain text');
    expect(new ApiError(500, {}).message).toBe('API error');
    expect(new ApiError(400, { message: { field: 'spec.name' } }).message).toBe('{"field":"spec.name"}');
  });
});
