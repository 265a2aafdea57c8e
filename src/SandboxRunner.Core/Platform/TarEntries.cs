using ICSharpCode.SharpZipLib.Tar;

namespace SandboxRunner.Platform;

/// <summary>One way to write a tar entry's header, for every archive the runner writes (trees, result overlays, blob views).</summary>
public static class TarEntries
{
    /// <summary>
    /// Starts an entry owned by <paramref name="uid"/>:<paramref name="gid"/> with no user or group names (the box resolves
    /// nothing of this machine's); entries without content (folders, links) are closed at once, a file's after its bytes.
    /// </summary>
    public static async Task PutAsync(
        TarOutputStream tar, string name, byte type, long size, int mode, int uid, int gid, string? link, DateTime modTime, CancellationToken cancellationToken)
    {
        var entry = TarEntry.CreateTarEntry(name);
        entry.TarHeader.TypeFlag = type;
        entry.TarHeader.Mode = mode;
        entry.Size = size;
        entry.TarHeader.UserId = uid;
        entry.TarHeader.GroupId = gid;
        entry.TarHeader.UserName = "";
        entry.TarHeader.GroupName = "";
        entry.ModTime = modTime;
        if (link is not null)
        {
            entry.TarHeader.LinkName = link;
        }

        await tar.PutNextEntryAsync(entry, cancellationToken);
        if (type != TarHeader.LF_NORMAL)
        {
            await tar.CloseEntryAsync(cancellationToken);
        }
    }
}
