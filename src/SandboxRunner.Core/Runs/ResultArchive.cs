using LibGit2Sharp;
using SandboxRunner.Git;
using SandboxRunner.Boxes;
using TarHeader = ICSharpCode.SharpZipLib.Tar.TarHeader;
using TarOutputStream = ICSharpCode.SharpZipLib.Tar.TarOutputStream;

namespace SandboxRunner.Runs;

/// <summary>
/// Chosen paths of a result commit as a tar for the engine's archive endpoint, read from the host repository's
/// own objects (where the harvest put them), never from the agent's folder: what an environment task's
/// verification lays over the run image's checkout. Parent folders come first, every entry owned by
/// <c>uid:gid</c> (the engine applies the headers' owner); links are written as links from their blob's text.
/// </summary>
public static class ResultArchive
{
    private const int MaxLinkBytes = 4096;

    public static async Task WriteAsync(
        Stream output, HostRepository host, string commit, IReadOnlyList<string> paths, int uid, int gid, CancellationToken cancellationToken)
    {
        using var repository = new Repository(host.CommonDir);
        var tree = repository.Lookup<Commit>(commit)?.Tree ?? throw new InvalidOperationException($"commit {commit} is missing from {host.Root}");
        await using var tar = new TarOutputStream(output, System.Text.Encoding.UTF8) { IsStreamOwner = false };
        var folders = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new byte[81920];
        foreach (var path in paths.Order(StringComparer.Ordinal))
        {
            if (tree[path] is not { TargetType: TreeEntryTargetType.Blob, Target: Blob blob } entry)
            {
                // A nested repository, or a path the commit does not hold: nothing to lay over.
                continue;
            }

            for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
            {
                if (folders.Add(path[..slash]))
                {
                    await Platform.TarEntries.PutAsync(tar, path[..slash] + "/", TarHeader.LF_DIR, 0, 0b111_101_101, uid, gid, null, DateTime.UtcNow, cancellationToken);
                }
            }

            if (entry.Mode == Mode.SymbolicLink)
            {
                var target = blob.Size <= MaxLinkBytes ? blob.GetContentText() : throw new InvalidDataException($"the link {path} holds more than {MaxLinkBytes} bytes");
                await Platform.TarEntries.PutAsync(tar, path, TarHeader.LF_SYMLINK, 0, 0b111_111_111, uid, gid, target, DateTime.UtcNow, cancellationToken);
                continue;
            }

            var mode = entry.Mode == Mode.ExecutableFile ? 0b111_101_101 : 0b110_100_100;
            await Platform.TarEntries.PutAsync(tar, path, TarHeader.LF_NORMAL, blob.Size, mode, uid, gid, null, DateTime.UtcNow, cancellationToken);
            await using (var content = blob.GetContentStream())
            {
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await tar.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            await tar.CloseEntryAsync(cancellationToken);
        }

        await tar.FinishAsync(cancellationToken);
    }
}
