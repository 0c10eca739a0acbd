/** Who calls the API. The owner is the one principal that may create workspaces. */
export const WORKSPACE_ROLES = ['admin', 'member'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

export interface Principal {
  id: string;
  workspaceId: string;
  kind: 'user' | 'service';
  role: WorkspaceRole;
  isOwner: boolean;
}

export const SCORE_SOURCES = ['human', 'api', 'automation', 'imported'] as const;
export type ScoreSource = (typeof SCORE_SOURCES)[number];
