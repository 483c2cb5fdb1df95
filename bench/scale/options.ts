// The knobs of npm run bench:scale, shared by its scenarios.
export interface ScaleOptions {
  /** autocannon connections and seconds per measured run, alternating rounds. */
  connections: number;
  seconds: number;
  rounds: number;
  /** (a) the large and the small account count, and the working set fetched at random. */
  accounts: number;
  smallAccounts: number;
  workingSet: number;
  /** (b) accounts whose tokens expire during the run, the run's window, replica counts. */
  refreshAccounts: number;
  windowMinutes: number;
  replicaCounts: number[];
  providerDelayMs: number;
  /** (b) a fetch burst every this many seconds. */
  fetchEverySeconds: number;
}
