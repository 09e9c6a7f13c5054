import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The rule ids ESLint reports for `code` linted as if it were the library file `filePath`, with the repository's config. */
async function ruleIds(code: string, filePath = 'src/routing/probe.ts'): Promise<Array<string | null>> {
  const [result] = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: `${ROOT}/${filePath}` });
  return (result?.messages ?? []).map((m) => m.ruleId);
}

describe('lint rules', () => {
  it.each([
    ['a private field', 'export class P {\n  private x = 1;\n  get y(): number {\n    return this.x;\n  }\n}\n'],
    ['a private method', 'export class P {\n  private x(): number {\n    return 1;\n  }\n  get y(): number {\n    return this.x();\n  }\n}\n'],
    ['a private parameter property', 'export class P {\n  constructor(private readonly x: number) {}\n  get y(): number {\n    return this.x;\n  }\n}\n'],
  ])("refuse TypeScript's `private` in the library: %s", async (_what, code) => {
    expect(await ruleIds(code)).toContain('no-restricted-syntax');
  });

  it('accept #private members, protected ones and a private constructor', async () => {
    const code =
      'export class P {\n  #x = 1;\n  protected z = 2;\n  private constructor() {}\n  get y(): number {\n    return this.#x + this.z;\n  }\n  static make(): P {\n    return new P();\n  }\n}\n';
    expect(await ruleIds(code)).toEqual([]);
  });
});
