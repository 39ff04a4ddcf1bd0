/** Where command results go: JSON on stdout with --json, text otherwise. */
export interface Output {
  readonly json: boolean;
  result(data: unknown, text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, text) {
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
    },
  };
}
