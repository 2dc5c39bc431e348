// Tells when certificate files may have changed: a watch on each directory (a renewal rewrites
// files or swaps a symlink: certbot's live/ links, a Kubernetes secret's `..data`), debounced, and
// a poll on an interval, because directory watches miss some changes (network filesystems, a
// symlink swapped on some kernels and container runtimes). The caller compares file signatures,
// so a spurious call costs a few stat() calls and nothing else.
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface WatchSettings {
  /** Watch the directories (fs.watch). */
  watch: boolean;
  /** Check anyway every this many ms; 0 = never. */
  pollMs: number;
  /** Quiet time after the last event before checking (several files change at once). */
  debounceMs?: number;
}

export class FileWatch {
  private watchers: FSWatcher[] = [];
  private dirs = '';
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly settings: WatchSettings,
    private readonly check: () => void,
    private readonly warn: (message: string, err: string) => void,
  ) {
    if (settings.pollMs > 0) {
      this.poll = setInterval(() => this.check(), settings.pollMs);
      this.poll.unref();
    }
  }

  /** Watches the directories of `files` (the set may change on reload). */
  follow(files: readonly string[]): void {
    if (this.closed || !this.settings.watch) return;
    const dirs = [...new Set(files.map((f) => dirname(f)))].sort();
    if (dirs.join('\n') === this.dirs) return;
    this.stopWatching();
    this.dirs = dirs.join('\n');
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.changed());
        // A directory that goes away (or an inotify limit) ends its watch; the poll still runs.
        w.on('error', (err) => this.warn(`certificate directory watch stopped: ${dir}`, err.message));
        this.watchers.push(w);
      } catch (err) {
        this.warn(`cannot watch certificate directory ${dir}; relying on the poll`, (err as Error).message);
      }
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.closed) this.check();
    }, this.settings.debounceMs ?? 200);
    this.timer.unref();
  }

  private stopWatching(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.dirs = '';
  }

  close(): void {
    this.closed = true;
    this.stopWatching();
    clearTimeout(this.timer);
    clearInterval(this.poll);
  }
}
