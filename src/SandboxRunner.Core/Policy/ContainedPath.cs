namespace SandboxRunner.Policy;

/// <summary>Builds paths under a root and proves they stay there, whatever the parts contain.</summary>
public static class ContainedPath
{
    public static string Combine(string root, params string[] parts)
    {
        var fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var candidate = Path.GetFullPath(Path.Combine([fullRoot, .. parts]));
        var prefix = fullRoot.EndsWith(Path.DirectorySeparatorChar) ? fullRoot : fullRoot + Path.DirectorySeparatorChar;
        if (!candidate.StartsWith(prefix, StringComparison.Ordinal) || candidate.Length == prefix.Length)
        {
            throw new InvalidOperationException($"Refusing path '{candidate}': it is not inside '{fullRoot}'.");
        }

        return candidate;
    }
}
