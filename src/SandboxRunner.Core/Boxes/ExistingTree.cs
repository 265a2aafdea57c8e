using SandboxRunner.Platform;

namespace SandboxRunner.Boxes;

/// <summary>
/// What an extraction's destination already holds: the tree the runner itself wrote there (the checkout the
/// container's copy was made from), as <c>lstat</c> sees it, links never followed. Each archive entry claims
/// its path (<see cref="Take"/>); what is there either stays (a folder for a folder, a file with the same
/// bytes for a file) or is removed first, and whatever no entry claimed is removed at the end, so the
/// destination ends as the archive says. Rewriting only what changed spares the host one create and one
/// delete per unchanged file (50,000 of each for a large checkout), and leaves their stat data as the
/// runner's index recorded it, so git re-reads only what changed.
/// </summary>
internal sealed class ExistingTree
{
    public enum Kind { Directory, File, Link }

    public sealed record Entry(Kind Kind, long Length, bool Executable);

    private readonly string _root;
    private readonly Dictionary<string, Entry> _entries;

    private ExistingTree(string root, Dictionary<string, Entry> entries)
    {
        _root = root;
        _entries = entries;
    }

    public static ExistingTree Scan(string root)
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        Walk(root, "", entries);
        return new ExistingTree(root, entries);
    }

    /// <summary>What was at <paramref name="relative"/> before the extraction, now the caller's to keep or <see cref="Remove"/>; null when nothing was.</summary>
    public Entry? Take(string relative) => _entries.Remove(relative, out var entry) ? entry : null;

    /// <summary>Removes what was taken from <paramref name="relative"/> (a folder with everything under it); nothing when <paramref name="entry"/> is null.</summary>
    public void Remove(string relative, Entry? entry)
    {
        var full = Path.Combine(_root, relative);
        switch (entry?.Kind)
        {
            case Kind.Directory:
                // What was under it is gone too: no later entry may find it, and the end must not remove it twice.
                var below = new Dictionary<string, Entry>(StringComparer.Ordinal);
                Walk(full, relative + "/", below);
                foreach (var path in below.Keys)
                {
                    _entries.Remove(path);
                }

                TreeDeletion.Delete(full);
                break;
            case Kind.File or Kind.Link:
                File.Delete(full);
                break;
        }
    }

    /// <summary>Removes every path no archive entry claimed, deepest first (a folder's content before the folder).</summary>
    public void RemoveRest()
    {
        foreach (var (path, entry) in _entries.OrderByDescending(e => e.Key.Length).ToList())
        {
            var full = Path.Combine(_root, path);
            if (entry.Kind == Kind.Directory)
            {
                Directory.Delete(full);
            }
            else
            {
                File.Delete(full);
            }
        }

        _entries.Clear();
    }

    public static bool IsExecutable(UnixFileMode mode) =>
        (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    private static void Walk(string folder, string prefix, Dictionary<string, Entry> entries)
    {
        var pending = new Stack<(string Full, string Prefix)>();
        pending.Push((folder, prefix));
        while (pending.Count > 0)
        {
            var (dir, at) = pending.Pop();
            foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                var name = at + info.Name;
                if (info.LinkTarget is not null)
                {
                    entries[name] = new Entry(Kind.Link, 0, false);
                }
                else if (info is DirectoryInfo)
                {
                    entries[name] = new Entry(Kind.Directory, 0, false);
                    pending.Push((info.FullName, name + "/"));
                }
                else if (info is FileInfo file)
                {
                    entries[name] = new Entry(Kind.File, file.Length, IsExecutable(file.UnixFileMode));
                }
            }
        }
    }
}
