import type { z } from 'zod';
import type * as api from '../domain/api.js';
import { isoOrNull } from '../infra/repositories/rows.js';
import type { QueueRecord } from '../infra/repositories/queues.repo.js';
import type { AppDeps } from './deps.js';
import { annotatorsOf } from './queue-access.js';

type Progress = z.output<typeof api.progressResponse>;

/** Counts by status, per annotator, and the caller's own. */
export async function queueProgress({ repos }: AppDeps, viewerId: string, queue: QueueRecord): Promise<Progress> {
  const { byStatus, perAnnotator, activity } = await repos.items.progress(queue.id);
  const counts = Object.fromEntries(byStatus.map((r) => [String(r.status), Number(r.count)]));
  const ids = new Set([...annotatorsOf(queue), ...perAnnotator.map((r) => String(r.annotator_id))]);
  const row = (id: string) => {
    const p = perAnnotator.find((r) => r.annotator_id === id);
    const a = activity.find((r) => r.actor_id === id);
    return {
      annotatorId: id,
      assigned: Number(p?.assigned ?? 0),
      reserved: Number(p?.reserved ?? 0),
      submitted: Number(p?.submitted ?? 0),
      skipped: Number(p?.skipped ?? 0),
      expired: Number(a?.expired ?? 0),
      lastActiveAt: isoOrNull(a?.last_active),
    };
  };
  return {
    total: Object.values(counts).reduce((s, n) => s + n, 0),
    byStatus: counts,
    annotators: [...ids].sort().map(row),
    mine: row(viewerId),
  };
}
