/** Filled in once the bluesky source lands: parse throughput of a generated document file. */
export interface ParseResult {
  encoding: string;
  megabytes: number;
  documents: number;
  seconds: number;
  mbPerSecond: number;
  documentsPerSecond: number;
}

export function blueskyParse(megabytes: number): Promise<ParseResult> {
  return Promise.resolve({ encoding: "jsonl", megabytes, documents: 0, seconds: 0, mbPerSecond: 0, documentsPerSecond: 0 });
}
