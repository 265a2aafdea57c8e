namespace SandboxRunner.Benchmarks;

internal static class FileSystems
{
    /// <summary>
    /// The device under <paramref name="path"/> when it is ext4 mounted without a journal, else null. Such a
    /// filesystem holds freed inodes back from reuse for a while, which makes create-after-delete cycles slow.
    /// </summary>
    public static string? NoJournalExt4(string path)
    {
        try
        {
            var full = Path.GetFullPath(path);
            string? bestMount = null;
            string? bestType = null;
            string? bestSource = null;
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
                var parts = line.Split(' ');
                var dash = Array.IndexOf(parts, "-");
                if (parts.Length < 5 || dash < 0 || dash + 2 >= parts.Length)
                {
                    continue;
                }

                var mount = parts[4];
                var inside = mount == "/" || full == mount || full.StartsWith(mount + "/", StringComparison.Ordinal);
                if (inside && (bestMount is null || mount.Length >= bestMount.Length))
                {
                    (bestMount, bestType, bestSource) = (mount, parts[dash + 1], parts[dash + 2]);
                }
            }

            if (bestType != "ext4" || bestSource is null)
            {
                return null;
            }

            var journalTask = Path.Combine("/sys/fs/ext4", Path.GetFileName(bestSource), "journal_task");
            return File.Exists(journalTask) && File.ReadAllText(journalTask).Trim() == "<none>" ? bestSource : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
