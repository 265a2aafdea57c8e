using System.Collections.Concurrent;
using System.Formats.Tar;
using SandboxRunner.Boxes;

namespace SandboxRunner.Tests.Fakes;

/// <summary>
/// The fake's archives and snapshots, as Docker's behave: tars go into and out of a container's files (its
/// <see cref="FakeContainer.Files"/>, by absolute path), changes and written bytes are what differs from the
/// image's files outside the container's mounts, and a commit makes an image of its files.
/// </summary>
internal sealed partial class FakeEngine
{
    /// <summary>The files each image holds (absolute path → bytes); an image absent here has none the fake knows of.</summary>
    public ConcurrentDictionary<string, IReadOnlyDictionary<string, byte[]>> ImageFiles { get; } = new(StringComparer.Ordinal);

    /// <summary>The labels of each image built or committed here (an image absent here has none).</summary>
    public ConcurrentDictionary<string, IReadOnlyDictionary<string, string>> ImageLabels { get; } = new(StringComparer.Ordinal);

    /// <summary>Makes a build fail with the returned log tail (null: it succeeds), as a recipe whose check fails does.</summary>
    public Func<ImageRecipe, string?>? BuildFailure { get; set; }

    private IReadOnlyDictionary<string, string> LabelsOf(string image) => ImageLabels.GetValueOrDefault(image) ?? new Dictionary<string, string>();

    /// <summary>Every commit made, in order: the container and what it became.</summary>
    public ConcurrentQueue<(FakeContainer Container, ImageCommit Commit)> Commits { get; } = new();

    public async Task PutArchiveAsync(string containerId, string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        using var tar = new MemoryStream();
        await writeTar(tar, cancellationToken);
        tar.Position = 0;
        await using var reader = new System.Formats.Tar.TarReader(tar);
        while (await reader.GetNextEntryAsync(copyData: true, cancellationToken) is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
            {
                using var bytes = new MemoryStream();
                await data.CopyToAsync(bytes, cancellationToken);
                container.Files[Join(path, entry.Name)] = bytes.ToArray();
            }
        }
    }

    public async Task<T> GetArchiveAsync<T>(string containerId, string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        var root = path.TrimEnd('/');
        var name = root[(root.LastIndexOf('/') + 1)..];
        using var tar = new MemoryStream();
        await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, name + "/"), cancellationToken);
            foreach (var (file, bytes) in container.Files.Where(f => f.Key.StartsWith(root + "/", StringComparison.Ordinal)).OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                await writer.WriteEntryAsync(
                    new PaxTarEntry(TarEntryType.RegularFile, name + file[root.Length..]) { DataStream = new MemoryStream(bytes) }, cancellationToken);
            }
        }

        tar.Position = 0;
        return await readTar(tar, cancellationToken);
    }

    public Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken)
    {
        var changes = Changed(Find(containerId));
        return Task.FromResult<IReadOnlyList<PathChange>?>(changes.Count > maxEntries ? null : changes);
    }

    public Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        return Task.FromResult<long?>(Changed(container)
            .Where(c => c.Kind != PathChangeKind.Deleted && container.Files.ContainsKey(c.Path))
            .Sum(c => (long)container.Files[c.Path].Length));
    }

    public Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken)
    {
        var container = Find(containerId);
        Images[commit.Tag] = true;
        ImageLabels[commit.Tag] = new Dictionary<string, string>(commit.Labels);
        ImageFiles[commit.Tag] = container.Files.Where(f => !Mounted(container, f.Key)).ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        Commits.Enqueue((container, commit));
        return Task.FromResult($"sha256:{commit.Tag}");
    }

    /// <summary>What differs from the container's image outside its mounts, every parent folder of a change reported too, as Docker's changes API does.</summary>
    private static List<PathChange> Changed(FakeContainer container)
    {
        var changes = new SortedDictionary<string, PathChangeKind>(StringComparer.Ordinal);
        foreach (var (path, bytes) in container.Files.Where(f => !Mounted(container, f.Key)))
        {
            if (!container.ImageFiles.TryGetValue(path, out var before))
            {
                changes[path] = PathChangeKind.Added;
            }
            else if (!before.AsSpan().SequenceEqual(bytes))
            {
                changes[path] = PathChangeKind.Modified;
            }
        }

        foreach (var path in container.ImageFiles.Keys.Where(p => !container.Files.ContainsKey(p)))
        {
            changes[path] = PathChangeKind.Deleted;
        }

        foreach (var path in changes.Keys.ToList())
        {
            for (var parent = Parent(path); parent is not null; parent = Parent(parent))
            {
                changes.TryAdd(parent, PathChangeKind.Modified);
            }
        }

        return changes.Select(c => new PathChange(c.Key, c.Value)).ToList();
    }

    private static bool Mounted(FakeContainer container, string path) =>
        container.Spec.Mounts.Select(m => m.Target).Concat(container.Spec.Volumes).Append("/tmp")
            .Any(target => path.StartsWith(target.TrimEnd('/') + "/", StringComparison.Ordinal));

    private static string? Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash > 0 ? path[..slash] : null;
    }

    private static string Join(string folder, string name) => folder.TrimEnd('/') + "/" + (name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name).TrimStart('/');
}
