namespace SandboxRunner.Platform;

/// <summary>Removes a folder an agent has written into, whatever permissions it left and without following its symlinks.</summary>
public static class TreeDeletion
{
    public static void Delete(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // An agent may leave folders without write or execute bits; give them back and try once more.
            MakeWritable(new DirectoryInfo(path));
            Directory.Delete(path, recursive: true);
        }
    }

    private static void MakeWritable(DirectoryInfo dir)
    {
        if (dir.LinkTarget is not null)
        {
            return;
        }

        dir.UnixFileMode |= UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (var child in dir.EnumerateDirectories())
        {
            MakeWritable(child);
        }
    }
}
