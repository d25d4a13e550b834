/** The delay before retry number `attemptsMade` (config RETRY_SCHEDULE_MS, by default contract
 *  §5's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), with ±10 % jitter so retries do not stampede. */
export function retryDelay(schedule: number[], attemptsMade: number): number {
  const base = schedule[Math.min(attemptsMade, schedule.length) - 1] ?? schedule[0] ?? 0;
  return Math.round(base * (0.9 + Math.random() * 0.2));
}
