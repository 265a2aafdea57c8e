using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Architecture;

/// <summary>
/// No source file much over 400 lines (the working agreement): a file past <see cref="MaxLines"/> is doing more than
/// one job. Today's long files are listed with who splits them; a listed file that is short again (or gone) fails,
/// so the list only shrinks.
/// </summary>
public sealed class FileSizeTests
{
    /// <summary>"Much over 400": the margin lets a cohesive file grow a little before it must be split.</summary>
    private const int MaxLines = 450;

    private static readonly IReadOnlyDictionary<string, string> LongFiles = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["src/SandboxRunner.Core/Sandbox/DockerEngine.cs"] = "seam (issue 24): the Docker backend split per resource in Boxes/Docker",
    };

    private static Dictionary<string, int> SourceFiles() =>
        Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "src"), "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RepositoryRoot.Path, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .ToDictionary(f => f, f => File.ReadLines(Path.Combine(RepositoryRoot.Path, f)).Count(), StringComparer.Ordinal);

    [Fact]
    public void No_source_file_is_over_450_lines_unless_listed_with_who_splits_it()
    {
        var tooLong = SourceFiles()
            .Where(kv => kv.Value > MaxLines && !LongFiles.ContainsKey(kv.Key))
            .Select(kv => $"{kv.Key} has {kv.Value} lines (at most {MaxLines}): split it by job into cohesive files (a partial class per job, or a class per job)")
            .ToList();

        Assert.True(tooLong.Count == 0, string.Join("\n", tooLong));
    }

    [Fact]
    public void Every_listed_long_file_is_still_long()
    {
        var files = SourceFiles();
        var stale = LongFiles
            .Where(kv => !files.TryGetValue(kv.Key, out var lines) || lines <= MaxLines)
            .Select(kv => $"{kv.Key} is listed as a long file ({kv.Value}) but is now at most {MaxLines} lines or gone: delete its line from FileSizeTests.LongFiles")
            .ToList();

        Assert.True(stale.Count == 0, string.Join("\n", stale));
    }
}
