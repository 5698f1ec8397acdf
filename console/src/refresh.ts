import { useEffect, useRef } from 'react';

/** How often lists with "Last used" are read again while the page is visible. */
export const REFRESH_INTERVAL_MS = 30_000;
/** Focus and visibility events close together (switching tabs fires both) read once. */
const MIN_GAP_MS = 2_000;

/**
 * Call `refresh` when the window gets focus or the tab becomes visible again, and every
 * `intervalMs` while the tab is visible: "Last used" and key states stay current without a
 * reload. A hidden tab asks nothing.
 */
export function useRefreshWhileVisible(
  refresh: () => void,
  { enabled = true, intervalMs = REFRESH_INTERVAL_MS }: { enabled?: boolean; intervalMs?: number } = {},
): void {
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  useEffect(() => {
    if (!enabled) return;
    let last = Date.now();
    const visible = () => document.visibilityState !== 'hidden';
    const run = () => {
      last = Date.now();
      refreshRef.current();
    };
    const onReturn = () => {
      if (visible() && Date.now() - last >= MIN_GAP_MS) run();
    };
    const timer = setInterval(() => {
      if (visible()) run();
    }, intervalMs);
    window.addEventListener('focus', onReturn);
    document.addEventListener('visibilitychange', onReturn);
    return () => {
      clearInterval(timer);
      window.removeEventListener('focus', onReturn);
      document.removeEventListener('visibilitychange', onReturn);
    };
  }, [enabled, intervalMs]);
}
