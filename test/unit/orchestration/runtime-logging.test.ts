import { Runtime } from '@temporalio/worker';
import { formatLogLine, installRuntimeLogging, redactTaskTokens } from '../../../workers/logging';

const when = '2026-01-01T00:00:00.000Z';
const token = 'CiQwMWEyMzFlNi1jMWI4LTc4NGQtYWYxNC02NzlkOGE0MzRlMzcSJHRlc3Nl';

describe('runtime log lines', () => {
  it('keep task tokens for the log file and drop them for the terminal, nested or not', () => {
    const entry = { level: 'WARN' as const, message: 'Activity failed', meta: { activityId: '1', taskToken: token, nested: { task_token: new Uint8Array([1, 2, 3]) } } };
    expect(formatLogLine(when, entry, false)).toBe(`${when} [WARN] Activity failed {"activityId":"1","taskToken":"${token}","nested":{"task_token":{"0":1,"1":2,"2":3}}}`);
    expect(formatLogLine(when, entry, true)).toBe(`${when} [WARN] Activity failed {"activityId":"1","nested":{}}`);
  });

  it('redact tokens spelled out in message text', () => {
    expect(redactTaskTokens(`completing task_token=${token} now`)).toBe('completing task_token=[redacted] now');
    expect(redactTaskTokens(`TaskToken(${token})`)).toBe('TaskToken([redacted])');
    // SDK Core's debug lines, forwarded: the key, then the token wrapped in its type.
    expect(redactTaskTokens(`PreparedWFT { task_token: TaskToken(${token}), start_time: 1 }`)).toBe('PreparedWFT { task_token: TaskToken([redacted]), start_time: 1 }');
    expect(redactTaskTokens('task_token: [10, 36, 48, 49]')).toBe('task_token: [redacted]');
    expect(redactTaskTokens(`{"taskToken": "${token}"}`)).toBe('{"taskToken": "[redacted]"}');
    expect(redactTaskTokens('the task token was short: ab')).toBe('the task token was short: ab');
  });

  it('show an error by its message on the terminal and with its stack in the file', () => {
    const entry = { level: 'ERROR' as const, message: 'failed', meta: { error: new TypeError('bad input') } };
    expect(formatLogLine(when, entry, true)).toBe(`${when} [ERROR] failed {"error":"TypeError: bad input"}`);
    expect(JSON.parse(formatLogLine(when, entry, false).split(' failed ')[1]).error).toMatchObject({ name: 'TypeError', message: 'bad input', stack: expect.stringContaining('TypeError: bad input') });
  });
});

it("has SDK Core forward its own lines through the same logger (else Core prints them itself, tokens and all)", () => {
  installRuntimeLogging('WARN');
  expect((Runtime.instance().options.runtimeOptions.logExporter as { type: string }).type).toBe('forward');
});
