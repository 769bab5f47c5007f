export const Loading = ({ what }: { what: string }) => (
  <div className="state loading" data-testid="loading">Loading {what}…</div>
);

export const ErrorState = ({ title, error }: { title: string; error: unknown }) => (
  <div className="state error" data-testid="error" role="alert">
    <strong>{title}</strong>
    <div>{error instanceof Error ? error.message : String(error)}</div>
  </div>
);

export const Empty = ({ children }: { children: React.ReactNode }) => (
  <div className="state empty" data-testid="empty">{children}</div>
);
