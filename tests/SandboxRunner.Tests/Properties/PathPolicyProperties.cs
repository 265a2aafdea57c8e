using CsCheck;
using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Properties;

/// <summary>Judging the paths a task changed, whatever names the agent gave them.</summary>
public sealed class PathPolicyProperties : IDisposable
{
    private readonly TempDirectory _tree = new();

    public PathPolicyProperties()
    {
        // Links of every kind SymlinkEscape follows, so generated paths that name them are resolved too.
        Directory.CreateDirectory(Path.Combine(_tree.Path, "src"));
        File.CreateSymbolicLink(Path.Combine(_tree.Path, "out"), "/etc");
        File.CreateSymbolicLink(Path.Combine(_tree.Path, "loop"), "loop");
        File.CreateSymbolicLink(Path.Combine(_tree.Path, "src", "up"), "../..");
        File.CreateSymbolicLink(Path.Combine(_tree.Path, "chain"), "src/up");
    }

    public void Dispose() => _tree.Dispose();

    private static readonly Gen<string> Segment = Gen.OneOf<string>(
        Gen.OneOf("src", "a.cs", "README.md", ".git", ".GIT", "..", ".", "", "*", "**", "?", "[a-z]", "{a,b}", "out", "loop", "chain", "up",
            "C:", "\\", "a\\b", "\0", "\n", "\u00e9", "\ud800", " ", new string('x', 300), new string('y', 5000)),
        Gen.String);

    private static readonly Gen<string> RelativePath = Segment.Array[1, 12].Select(segments => string.Join('/', segments));

    private static readonly Gen<string[]> Pattern = Gen.OneOf("src/**", "*.md", "**/*.cs", "**", "docs/*/x", "a/**/b/**/c", "src/")
        .Array[0, 4];

    private static string Print((string[] Patterns, string Path) t) =>
        $"[{string.Join(", ", t.Patterns)}] {(t.Path.Length <= 300 ? t.Path : $"{t.Path[..300]}… ({t.Path.Length} chars)")}";

    [Fact]
    public void No_changed_path_makes_the_check_throw()
    {
        Gen.Select(Pattern, Gen.OneOf<string>(RelativePath, Gen.String)).Sample((patterns, path) =>
        {
            new PathPolicy(patterns).Check(_tree.Path, [path]);
        }, iter: 2000, threads: 1, print: Print);
    }

    [Fact]
    public void A_path_that_leaves_the_tree_by_name_is_never_allowed()
    {
        RelativePath.Sample(path =>
        {
            var escapes = path.Split('/').Contains("..");

            var violations = new PathPolicy(["**"]).Check(_tree.Path, [path]);

            Assert.True(!escapes || violations.Count > 0, "a '..' segment passed");
        }, iter: 1000, threads: 1, print: p => p.Length <= 300 ? p : p[..300]);
    }

    [Fact]
    public void No_pattern_a_config_accepts_makes_the_check_throw()
    {
        // Allows alone throws on a NUL in the path (the globbing library's Path calls); Check refuses those first.
        var configPattern = Segment.Array[1, 6].Select(s => string.Join('/', s)).Where(p => ConfigLoader.RelativePattern(p) is null);
        Gen.Select(configPattern, RelativePath)
            .Sample((pattern, path) => new PathPolicy([pattern]).Check(_tree.Path, [path]), iter: 1000, threads: 1);
    }
}
