import { DomainError } from './errors.js';

/** Queue settings and status transitions (DESIGN.md §3). */
export const ASSIGNMENT_STRATEGIES = ['manual', 'round_robin', 'load_balanced'] as const;
export type AssignmentStrategy = (typeof ASSIGNMENT_STRATEGIES)[number];

export const QUEUE_ROLES = ['annotator', 'reviewer', 'manager'] as const;
export type QueueRole = (typeof QUEUE_ROLES)[number];

export const QUEUE_STATUSES = ['draft', 'active', 'paused', 'completed'] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];

const TRANSITIONS: Record<QueueStatus, readonly QueueStatus[]> = {
  draft: ['active'],
  active: ['paused', 'completed'],
  paused: ['active', 'completed'],
  completed: ['active'],
};

export function allowedQueueTransitions(from: QueueStatus): readonly QueueStatus[] {
  return TRANSITIONS[from];
}

export function assertQueueTransition(from: QueueStatus, to: QueueStatus): void {
  if (!TRANSITIONS[from].includes(to)) {
    const allowed = TRANSITIONS[from];
    throw new DomainError('INVALID_TRANSITION', `A ${from} queue cannot become ${to}; allowed: ${allowed.join(', ')}.`, { from, to, allowed });
  }
}

/** Whether annotators may take new reservations in a queue of this status. */
export function queueServesWork(status: QueueStatus): { ok: true } | { ok: false; message: string } {
  switch (status) {
    case 'active':
      return { ok: true };
    case 'draft':
      return { ok: false, message: 'The queue is a draft: activate it before annotators start.' };
    case 'paused':
      return { ok: false, message: 'The queue is paused: no new reservations until it is active again.' };
    case 'completed':
      return { ok: false, message: 'The queue is completed: no new reservations.' };
  }
}
