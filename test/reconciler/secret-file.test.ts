// The one reader of secret files: files as people, editors, agenix and sops-nix write them.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { readSecretFile, SecretFileError } from '../../common/secret-file.js';
import { makeTempDir } from '../helpers/tools.js';

const tmp = makeTempDir('skyrec-secret-file-');
afterAll(() => tmp.cleanup());
let n = 0;
const file = (content: string | Buffer) => {
  const path = join(tmp.dir, `secret-${n++}`);
  writeFileSync(path, content);
  return path;
};

describe('readSecretFile', () => {
  it('drops one trailing LF or CRLF, and keeps everything else byte for byte', async () => {
    const echoed = join(tmp.dir, 'echoed');
    await exec(['sh', '-c', `echo "$S" > '${echoed}'`], { env: { S: 's3cret value' } });
    expect(readSecretFile('--x', echoed).toString()).toBe('s3cret value');
    expect(readSecretFile('--x', file('s3cret\r\n')).toString()).toBe('s3cret');
    expect(readSecretFile('--x', file('s3cret')).toString()).toBe('s3cret');
    expect(readSecretFile('--x', file('s3cret\n\n')).toString()).toBe('s3cret\n');
    expect(readSecretFile('--x', file(' s3cret \n')).toString()).toBe(' s3cret ');
    expect(readSecretFile('--x', file(Buffer.from([0xff, 0x00, 0x0a]))).equals(Buffer.from([0xff, 0x00]))).toBe(true);
  });

  it('refuses an empty, whitespace-only or unreadable file as a usage error naming the option and the file', () => {
    const cases: [string, string][] = [[file(''), 'is empty'], [file('\n'), 'holds only whitespace'], [file(' \t\r\n'), 'holds only whitespace'], [join(tmp.dir, 'missing'), 'cannot be read: ENOENT']];
    for (const [path, problem] of cases) {
      let err: unknown;
      try {
        readSecretFile('--webhook-secret-file', path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SecretFileError);
      expect(err).toMatchObject({ code: 'SECRET_FILE', exitCode: 2, option: '--webhook-secret-file', path, message: `--webhook-secret-file ${path} ${problem}` });
    }
  });
});
