import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { ComputeSlots } from '../../../workers/compute-slots';

/** A promise with its resolver, to hold an activity body open until the test lets it end. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Whether `p` settles within `ms` (a reservation that must wait must still be pending after it). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);
}

const abortable = () => new AbortController();

it('runs activities one compute slot at a time, first come first served, and counts those held ahead', async () => {
  const slots = new ComputeSlots(1, 1);
  const started: string[] = [];
  const bodies = { a: gate(), b: gate(), c: gate() };
  const runs = (['a', 'b', 'c'] as const).map((k) =>
    slots.run(new MockActivityEnvironment().context, async () => {
      started.push(k);
      await bodies[k].promise;
      return k;
    }));
  await sleep(20);
  expect(started).toEqual(['a']);
  bodies.a.open();
  await expect(runs[0]).resolves.toBe('a');
  await sleep(5);
  expect(started).toEqual(['a', 'b']);
  bodies.b.open();
  bodies.c.open();
  await expect(Promise.all(runs)).resolves.toEqual(['a', 'b', 'c']);
  const s = slots.stats();
  expect(s).toMatchObject({ slots: 1, activities: 3, heldAhead: 2 });
  expect(s.heldS).toBeGreaterThan(0.015);
  expect(s.busyS).toBeGreaterThan(0.015);
});

it('an activity that throws still frees its slot for the next in line', async () => {
  const slots = new ComputeSlots(1, 1);
  const first = slots.run(new MockActivityEnvironment().context, async () => {
    await sleep(10);
    throw new Error('boom');
  });
  const second = slots.run(new MockActivityEnvironment().context, async () => 'ran');
  await expect(first).rejects.toThrow('boom');
  await expect(second).resolves.toBe('ran');
});

it('a waiting activity heartbeats, and leaves the line when cancelled without losing the slot', async () => {
  const slots = new ComputeSlots(1, 1);
  const running = gate();
  const first = slots.run(new MockActivityEnvironment().context, () => running.promise);
  const waiting = new MockActivityEnvironment();
  let beats = 0;
  waiting.on('heartbeat', () => beats++);
  let ranWhileCancelled = false;
  const second = slots.run(waiting.context, async () => {
    ranWhileCancelled = true;
  });
  await sleep(2200);
  expect(beats).toBeGreaterThanOrEqual(1);
  waiting.cancel();
  await expect(second).rejects.toBeInstanceOf(CancelledFailure);
  expect(ranWhileCancelled).toBe(false);
  running.open();
  await first;
  // The slot came back: the next activity runs at once, not held.
  const before = slots.stats().heldAhead;
  await expect(slots.run(new MockActivityEnvironment().context, async () => 'next')).resolves.toBe('next');
  expect(slots.stats().heldAhead).toBe(before);
}, 10_000);

it('reserves the look-ahead only after short activities, and stops after long ones', async () => {
  const slots = new ComputeSlots(1, 1, 0.05);
  const supplier = slots.supplier();
  const ctx = { slotType: 'activity' as const, taskQueue: 'q', workerIdentity: 'w', workerBuildId: '', isSticky: false };
  // Nothing has run yet: one poll at a time.
  const p1 = await supplier.reserveSlot(ctx, abortable().signal);
  const second = supplier.reserveSlot(ctx, abortable().signal);
  expect(await settlesWithin(second, 30)).toBe(false);
  expect(supplier.tryReserveSlot(ctx)).toBeNull();
  // A short activity ends: the look-ahead opens and the waiting reservation goes out.
  await slots.run(new MockActivityEnvironment().context, async () => undefined);
  expect(slots.capacity()).toBe(2);
  const p2 = await second;
  // Long activities (over 50 ms each) close it again once they dominate the recent mean.
  for (let i = 0; i < 8; i++) await slots.run(new MockActivityEnvironment().context, () => sleep(70));
  expect(slots.lookingAhead()).toBe(false);
  supplier.releaseSlot({ permit: p1 });
  supplier.releaseSlot({ permit: p2 });
  await supplier.reserveSlot(ctx, abortable().signal);
  const controller = abortable();
  const blocked = supplier.reserveSlot(ctx, controller.signal);
  expect(await settlesWithin(blocked, 30)).toBe(false);
  controller.abort();
  // Exactly the signal's reason: the SDK logs any other rejection as an error.
  await expect(blocked).rejects.toBe(controller.signal.reason);
});

it('with no look-ahead never holds more tasks than compute slots', async () => {
  const slots = new ComputeSlots(2, 0);
  await slots.run(new MockActivityEnvironment().context, async () => undefined);
  expect(slots.capacity()).toBe(2);
  expect(() => new ComputeSlots(0, 1)).toThrow(RangeError);
  expect(() => new ComputeSlots(1, -1)).toThrow(RangeError);
});
