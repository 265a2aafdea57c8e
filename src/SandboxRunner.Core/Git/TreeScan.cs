using SandboxRunner.Configuration;
using SandboxRunner.Platform;

namespace SandboxRunner.Git;

public enum TreeFindingKind
{
    /// <summary>A FIFO, socket or device: git would block opening it (a FIFO named <c>.gitignore</c> hung the server).</summary>
    SpecialFile,

    /// <summary>A file over <c>max_file_bytes</c>: not kept.</summary>
    FileTooLarge,

    /// <summary>A folder nested deeper than the runner reads (paths past PATH_MAX break every tool): not kept.</summary>
    TooDeep,

    /// <summary>
    /// An entry the copy transport would not write on the host (a name that is not UTF-8, through a link, a
    /// hard link out of the tree): not kept.
    /// </summary>
    UnsafeName,
}

/// <summary>Something in an agent's tree that cannot be harvested as it is, and was removed so the rest can be.</summary>
public sealed record TreeFinding(TreeFindingKind Kind, string Path, string Detail);

/// <summary>What a scan counted; <see cref="OverLimit"/> names the first limit passed, if any.</summary>
public sealed record TreeCensus(long Files, long Bytes, string? OverLimit);

/// <summary>
/// Walks an agent's tree without following links, bounded by the task's limits: to watch it while the
/// task runs, and after the container is gone to remove what git must never open, so the harvest that
/// follows cannot block and never reads past the limits.
/// </summary>
public static class TreeScan
{
    /// <summary>Deeper than this many folders, or a path longer than this, is not read.</summary>
    public const int MaxDepth = 128;
    public const int MaxPathChars = 3000;

    /// <summary>Counts files and bytes under <paramref name="roots"/>, stopping as soon as a limit is passed.</summary>
    public static TreeCensus Measure(IEnumerable<string> roots, TaskLimits limits, CancellationToken cancellationToken)
    {
        long files = 0, bytes = 0;
        foreach (var root in roots)
        {
            var over = Walk(root, (entry, type, size, _) =>
            {
                // A folder is an inode like a file: a million empty folders cost the host as much.
                files++;
                bytes += size;

                return files > limits.MaxFiles ? $"max_files ({limits.MaxFiles})"
                    : bytes > limits.MaxTreeBytes ? $"max_tree_bytes ({limits.MaxTreeBytes})"
                    : size > limits.MaxFileBytes ? $"max_file_bytes ({limits.MaxFileBytes}) by {entry}"
                    : null;
            }, removeTooDeep: false, findings: null, skipTopGitDir: false, cancellationToken);
            if (over is not null)
            {
                return new TreeCensus(files, bytes, over);
            }
        }

        return new TreeCensus(files, bytes, null);
    }

    /// <summary>
    /// Removes special files, files over <c>max_file_bytes</c> and folders nested too deep from the agent's
    /// tree (its own <c>.git</c> aside, which host git never reads), and says what went. The census
    /// afterwards says whether the rest is within the limits.
    /// </summary>
    public static (IReadOnlyList<TreeFinding> Findings, TreeCensus Census) Prepare(string workRoot, TaskLimits limits, CancellationToken cancellationToken)
    {
        var findings = new List<TreeFinding>();
        long files = 0, bytes = 0;
        findings.AddRange(RemoveByFind(workRoot, limits));
        var over = Walk(workRoot, (relative, type, size, full) =>
        {
            if (type == FileType.Directory)
            {
                files++;
                return files > limits.MaxFiles ? $"max_files ({limits.MaxFiles})" : null;
            }

            if (type is FileType.Fifo or FileType.Socket or FileType.CharacterDevice or FileType.BlockDevice or FileType.Other)
            {
                findings.Add(new TreeFinding(TreeFindingKind.SpecialFile, relative, $"is a {Describe(type)}; git would block opening it, so it was removed"));
                File.Delete(full);
                return null;
            }

            if (type == FileType.Regular && size > limits.MaxFileBytes)
            {
                findings.Add(new TreeFinding(TreeFindingKind.FileTooLarge, relative, $"is {size} bytes, over max_file_bytes ({limits.MaxFileBytes}); it was not kept"));
                File.Delete(full);
                return null;
            }

            files++;
            bytes += size;
            return files > limits.MaxFiles ? $"max_files ({limits.MaxFiles})"
                : bytes > limits.MaxTreeBytes ? $"max_tree_bytes ({limits.MaxTreeBytes})"
                : null;
        }, removeTooDeep: true, findings, skipTopGitDir: true, cancellationToken);
        return (findings, new TreeCensus(files, bytes, over));
    }

    /// <summary>
    /// The same removals by <c>find</c>, which handles names .NET cannot (bytes that are not UTF-8 come
    /// back as U+FFFD and can no longer be opened by name) and paths of any depth: special files, and
    /// regular files over <c>max_file_bytes</c>. The agent's own <c>.git</c> is left alone.
    /// </summary>
    private static IEnumerable<TreeFinding> RemoveByFind(string workRoot, TaskLimits limits)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("find") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[
            // -delete implies -depth, under which -prune does nothing: .git is excluded by path instead.
            workRoot, "-depth", "-mindepth", "1", "!", "-path", Path.Combine(workRoot, ".git"), "!", "-path", Path.Combine(workRoot, ".git") + "/*",
            "(", "(", "!", "-type", "f", "!", "-type", "d", "!", "-type", "l", "-printf", "s%P\\0", "-delete", ")",
            "-o", "(", "-type", "f", "-size", $"+{limits.MaxFileBytes}c", "-printf", "b%s %P\\0", "-delete", ")", ")"])
        {
            psi.ArgumentList.Add(arg);
        }

        var findings = new List<TreeFinding>();
        try
        {
            using var process = System.Diagnostics.Process.Start(psi)!;
            _ = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
            }

            foreach (var record in output.Result.Split('\0', StringSplitOptions.RemoveEmptyEntries).Take(1000))
            {
                if (record[0] == 's')
                {
                    findings.Add(new TreeFinding(TreeFindingKind.SpecialFile, record[1..], "is a FIFO, socket or device; git would block opening it, so it was removed"));
                }
                else if (record.IndexOf(' ') is var space and > 1)
                {
                    findings.Add(new TreeFinding(TreeFindingKind.FileTooLarge, record[(space + 1)..],
                        $"is {record[1..space]} bytes, over max_file_bytes ({limits.MaxFileBytes}); it was not kept"));
                }
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // No find: the managed walk below still removes what it can name.
        }

        return findings;
    }

    private static string? Next(IEnumerator<string> entries)
    {
        try
        {
            return entries.MoveNext() ? entries.Current : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Describe(FileType type) => type switch
    {
        FileType.Fifo => "FIFO",
        FileType.Socket => "socket",
        FileType.CharacterDevice => "character device",
        FileType.BlockDevice => "block device",
        _ => "special file",
    };

    /// <summary>Depth-first, iterative (no recursion to overflow), never through a link; stops when <paramref name="visit"/> names a limit.</summary>
    private static string? Walk(
        string root, Func<string, FileType, long, string, string?> visit, bool removeTooDeep, List<TreeFinding>? findings, bool skipTopGitDir,
        CancellationToken cancellationToken)
    {
        if (FileKind.Of(root).Type != FileType.Directory)
        {
            return null;
        }

        var pending = new Stack<(string Full, string Relative, int Depth)>();
        pending.Push((root, "", 0));
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (dir, relativeDir, depth) = pending.Pop();
            // Lazily, so a folder of millions of entries costs no more memory than the limits allow.
            IEnumerator<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(dir).GetEnumerator();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Unreadable folders are the harvest's to report (git add --ignore-errors names them).
                continue;
            }

            using var owned = entries;
            while (Next(entries) is { } entry)
            {
                var name = Path.GetFileName(entry);
                var full = Path.Combine(dir, name);
                var relative = relativeDir.Length == 0 ? name : relativeDir + "/" + name;
                if (skipTopGitDir && depth == 0 && name == ".git")
                {
                    continue;
                }

                var (type, size) = FileKind.Of(full);
                if (type == FileType.Directory)
                {
                    if (depth + 1 >= MaxDepth || full.Length >= MaxPathChars)
                    {
                        if (removeTooDeep)
                        {
                            findings?.Add(new TreeFinding(TreeFindingKind.TooDeep, relative, $"is nested past {MaxDepth} folders or {MaxPathChars} characters; it and everything under it were not kept"));
                            TreeDeletion.TryDelete(full);
                        }

                        continue;
                    }

                    pending.Push((full, relative, depth + 1));
                }

                if (visit(relative, type, type == FileType.Regular ? size : 0, full) is { } over)
                {
                    return over;
                }
            }
        }

        return null;
    }
}
