/** What every probe gets: where to put its scratch files, how many samples to take, where to say what it is doing. */
export interface ProbeContext {
  /** A directory of the evaluation's own under the state dir, removed at the end. */
  scratch: string;
  /** The extraction cache the heartbeats share (the user's, so nothing is extracted twice). */
  cache?: string;
  runs: number;
  chain: number;
  quick: boolean;
  progress: (line: string) => void;
}
