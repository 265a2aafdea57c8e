using SandboxRunner.Policy;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Policy;

/// <summary>Which changed paths a task may leave behind: the allowed patterns, .git, and unsafe names.</summary>
public sealed class PathPolicyTests : IDisposable
{
    private readonly TempDirectory _tree = new();

    public void Dispose() => _tree.Dispose();

    private IReadOnlyList<Violation> Check(string[] patterns, params string[] changedPaths) =>
        new PathPolicy(patterns).Check(_tree.Path, changedPaths);

    [Theory]
    [InlineData("src/**", "src/a.cs")]
    [InlineData("src/**", "src/deep/er/a.cs")]
    [InlineData("src/**", "src/.hidden")]
    [InlineData("src/**", "src/.config/x.json")]
    [InlineData("*.md", "README.md")]
    [InlineData("*.md", ".md")]
    [InlineData("**", "a")]
    [InlineData("**", ".env")]
    [InlineData("**", "a/b/c/.hidden")]
    [InlineData("**", ".github/workflows/ci.yml")]
    [InlineData("*", ".env")]
    [InlineData("src/*", "src/.hidden")]
    [InlineData("src/*.cs", "src/a.cs")]
    [InlineData(".env", ".env")]
    [InlineData("docs/**/*.md", "docs/a.md")]
    [InlineData("docs/**/*.md", "docs/x/y/a.md")]
    [InlineData("docs/**/*.md", "docs/.hidden.md")]
    public void Pattern_allows_path(string pattern, string path)
    {
        Assert.True(new PathPolicy([pattern]).Allows(path));
    }

    [Theory]
    [InlineData("src/**", "tests/a.cs")]
    [InlineData("src/**", "a/src/b.cs")]
    [InlineData("src/**", "srcx/a.cs")]
    [InlineData("src/**", "SRC/a.cs")]
    [InlineData("SRC/**", "src/a.cs")]
    [InlineData("*.md", "docs/a.md")]
    [InlineData("*.md", "README.MD")]
    [InlineData("*.md", "README.md.bak")]
    [InlineData("*", "src/a")]
    [InlineData("src/*.cs", "src/sub/a.cs")]
    [InlineData("src/*.cs", "src/a.csx")]
    [InlineData("src/*.cs", "src/A.CS")]
    [InlineData(".env", "sub/.env")]
    [InlineData(".env", ".env.local")]
    [InlineData(".env", ".ENV")]
    [InlineData("docs/**/*.md", "docs/x/a.txt")]
    [InlineData("docs/**/*.md", "a.md")]
    [InlineData("docs/**/*.md", "Docs/a.md")]
    public void Pattern_does_not_allow_path(string pattern, string path)
    {
        Assert.False(new PathPolicy([pattern]).Allows(path));
    }

    [Theory]
    [InlineData("src/a.cs")]
    [InlineData("README.md")]
    public void Any_of_several_patterns_allows_a_path(string path)
    {
        Assert.True(new PathPolicy(["src/**", "*.md"]).Allows(path));
    }

    [Fact]
    public void No_patterns_allow_nothing()
    {
        Assert.False(new PathPolicy([]).Allows("a.txt"));
    }

    [Fact]
    public void Patterns_are_kept_as_given()
    {
        Assert.Equal(["src/**", "*.md"], new PathPolicy(["src/**", "*.md"]).Patterns);
    }

    [Fact]
    public void Allowed_changes_are_no_violation()
    {
        File.WriteAllText(Path.Combine(_tree.Path, "README.md"), "x");

        Assert.Empty(Check(["src/**", "*.md"], "README.md", "src/gone.cs"));
    }

    [Fact]
    public void A_path_outside_the_patterns_is_not_allowed_and_the_rule_names_the_patterns()
    {
        var violation = Assert.Single(Check(["src/**", "*.md"], "secrets/leak.txt"));

        Assert.Equal(ViolationKind.PathNotAllowed, violation.Kind);
        Assert.Equal("secrets/leak.txt", violation.Path);
        Assert.Null(violation.Command);
        Assert.Equal("matches none of the allowed paths (src/**, *.md)", violation.Rule);
    }

    [Fact]
    public void A_dotfile_outside_the_patterns_is_not_allowed()
    {
        var violation = Assert.Single(Check(["src/**"], ".hidden"));

        Assert.Equal(ViolationKind.PathNotAllowed, violation.Kind);
    }

    [Fact]
    public void A_deleted_path_inside_the_patterns_is_no_violation()
    {
        Assert.Empty(Check(["src/**"], "src/deleted.cs"));
    }

    [Fact]
    public void A_deleted_path_outside_the_patterns_is_only_not_allowed()
    {
        var violation = Assert.Single(Check(["src/**"], "deleted.cs"));

        Assert.Equal(ViolationKind.PathNotAllowed, violation.Kind);
    }

    [Fact]
    public void A_deleted_path_under_a_missing_directory_is_checked_for_patterns_only()
    {
        var violation = Assert.Single(Check(["src/**"], "gone/dir/deleted.cs"));

        Assert.Equal(ViolationKind.PathNotAllowed, violation.Kind);
    }

    [Theory]
    [InlineData(".git/config")]
    [InlineData(".git/hooks/pre-commit")]
    [InlineData("sub/.git/hooks/x")]
    [InlineData("src/.git/HEAD")]
    [InlineData(".GIT/x")]
    [InlineData(".Git/config")]
    [InlineData(".git")]
    [InlineData("src/.git")]
    public void Anything_with_a_git_segment_is_a_git_directory_change_even_when_every_path_is_allowed(string path)
    {
        var violation = Assert.Single(Check(["**"], path));

        Assert.Equal(ViolationKind.GitDirectory, violation.Kind);
        Assert.Equal(path, violation.Path);
    }

    [Fact]
    public void A_git_directory_change_outside_the_patterns_is_reported_once_as_git_directory()
    {
        var violation = Assert.Single(Check(["src/**"], ".git/config"));

        Assert.Equal(ViolationKind.GitDirectory, violation.Kind);
    }

    [Theory]
    [InlineData(".gitignore")]
    [InlineData(".github/workflows/ci.yml")]
    [InlineData("a.git/x")]
    [InlineData("src/.git-blame-ignore-revs")]
    public void Names_that_only_start_with_git_are_ordinary_paths(string path)
    {
        Assert.Empty(Check(["**"], path));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("..")]
    [InlineData("src/../../x")]
    [InlineData("a/..")]
    [InlineData("/etc/passwd")]
    [InlineData("/")]
    [InlineData("\\x")]
    [InlineData("C:/x")]
    [InlineData("a/./b")]
    [InlineData("./a")]
    [InlineData(".")]
    [InlineData("a\\..\\..\\b")]
    [InlineData("a\u0001b")]
    [InlineData("a\nb")]
    [InlineData("a\0")]
    [InlineData("tab\there")]
    [InlineData("del\u007f")]
    public void Unsafe_paths_are_reported_as_unsafe_and_nothing_else(string path)
    {
        var violation = Assert.Single(Check(["**"], path));

        Assert.Equal(ViolationKind.UnsafePath, violation.Kind);
        Assert.Equal(path, violation.Path);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("/etc/passwd", "is an absolute path")]
    [InlineData("../x", "contains a '.' or '..' segment")]
    [InlineData("a/./b", "contains a '.' or '..' segment")]
    [InlineData("a\u0001b", "contains a control character")]
    public void Unsafe_path_rule_says_what_is_wrong(string path, string rule)
    {
        Assert.Equal(rule, Assert.Single(Check(["**"], path)).Rule);
    }

    [Fact]
    public void An_unsafe_path_under_git_is_reported_as_unsafe_only()
    {
        var violation = Assert.Single(Check(["**"], ".git/../x"));

        Assert.Equal(ViolationKind.UnsafePath, violation.Kind);
    }

    [Theory]
    [InlineData("..a")]
    [InlineData("a..")]
    [InlineData("a/...")]
    [InlineData(".env")]
    [InlineData("dir with spaces/ünïcode.txt")]
    public void Dots_inside_names_are_not_unsafe(string path)
    {
        Assert.Empty(Check(["**"], path));
    }

    [Fact]
    public void Each_changed_path_is_judged_in_order()
    {
        var violations = Check(["src/**"], "src/ok.cs", "../x", ".git/config", "other.txt");

        Assert.Equal(
            [
                Violation.ForPath(ViolationKind.UnsafePath, "../x", "contains a '.' or '..' segment"),
                Violation.ForPath(ViolationKind.GitDirectory, ".git/config", "nothing under a .git folder may change"),
                Violation.ForPath(ViolationKind.PathNotAllowed, "other.txt", "matches none of the allowed paths (src/**)"),
            ],
            violations);
    }

    [Fact]
    public void No_changed_paths_are_no_violation()
    {
        Assert.Empty(Check(["src/**"]));
    }

    [Theory]
    [InlineData("src/**", "src/**")]
    [InlineData("src/**", "src/foo/**")]
    [InlineData("src/**", "src/*.cs")]
    [InlineData("src/**", "src/a.txt")]
    [InlineData("src/**", "src/foo/*.md")]
    [InlineData("src/**", "src/.env")]
    [InlineData("src/*", "src/a")]
    [InlineData("src/*", "src/*")]
    [InlineData("src/*", "src/*.cs")]
    [InlineData("src/*.txt", "src/a.txt")]
    [InlineData("src/*.txt", "src/*.txt")]
    [InlineData("src/*.txt", "src/a*.txt")]
    [InlineData("**", "**")]
    [InlineData("**", "src/**")]
    [InlineData("**", "*.md")]
    [InlineData("**", ".env")]
    [InlineData("**", "a/b/**")]
    [InlineData("**", "**/x")]
    [InlineData("**/*.md", "docs/**/*.md")]
    [InlineData("**/*.md", "*.md")]
    [InlineData("docs/**/*.md", "docs/*.md")]
    [InlineData("docs/**/*.md", "docs/a/**/*.md")]
    [InlineData("*/**", "src/**")]
    public void Task_pattern_narrows_config_pattern(string config, string task)
    {
        Assert.True(PathPolicy.IsNarrowing(task, [config]));
    }

    [Theory]
    [InlineData("src/**", "**")]
    [InlineData("src/**", "*.md")]
    [InlineData("src/**", "tests/**")]
    [InlineData("src/**", "SRC/**")]
    [InlineData("src/**", "srcx/**")]
    [InlineData("src/**", "**/*.cs")]
    [InlineData("src/**", "src/../**")]
    [InlineData("src/**", "src/../etc/**")]
    [InlineData("src/*", "src/**")]
    [InlineData("src/*", "src/a/b")]
    [InlineData("src/*", "src/*/x")]
    [InlineData("src/*", "src/**/*")]
    [InlineData("src/*.txt", "src/*")]
    [InlineData("src/*.txt", "src/a.md")]
    [InlineData("src/*.txt", "src/**/*.txt")]
    [InlineData("docs/**/*.md", "docs/**")]
    [InlineData("docs/**/*.md", "docs/**/*")]
    [InlineData("*/**", "**")]
    [InlineData("*.md", "**/*.md")]
    public void Task_pattern_wider_than_config_pattern_is_not_narrowing(string config, string task)
    {
        Assert.False(PathPolicy.IsNarrowing(task, [config]));
    }

    [Theory]
    [InlineData("src/**", true)]
    [InlineData("src/a/*.cs", true)]
    [InlineData("docs/*.md", true)]
    [InlineData("docs/a.md", true)]
    [InlineData("docs/**", false)]
    [InlineData("docs/a.txt", false)]
    [InlineData("**", false)]
    [InlineData("tests/**", false)]
    public void Task_pattern_narrows_when_any_config_pattern_covers_it(string task, bool narrowing)
    {
        Assert.Equal(narrowing, PathPolicy.IsNarrowing(task, ["src/**", "docs/*.md"]));
    }

    [Fact]
    public void Nothing_narrows_an_empty_config()
    {
        Assert.False(PathPolicy.IsNarrowing("src/a.cs", []));
    }

    [Theory]
    [InlineData("src/*", "src\\**")]
    [InlineData("*", "src/")]
    public void Task_pattern_spelled_unusually_is_not_narrowing_when_it_matches_deeper(string config, string task)
    {
        Assert.False(PathPolicy.IsNarrowing(task, [config]));
    }

    [Theory]
    [InlineData("src/*", "src/")]
    [InlineData("*", "src\\**")]
    [InlineData("*", "src\\a\\**")]
    public void Task_pattern_with_a_hidden_globstar_is_not_narrowing(string config, string task)
    {
        // new PathPolicy(["src/"]).Allows("src/a/b.cs") and new PathPolicy(["src\\**"]).Allows("src/a/b.cs") are both true.
        Assert.False(PathPolicy.IsNarrowing(task, [config]));
    }

    [Theory]
    [InlineData("**/src/*", "src/**")]
    [InlineData("a/**/b/*", "a/b/**")]
    [InlineData("src/**/generated/*", "src/generated/**")]
    public void Task_globstar_matched_only_by_a_config_star_is_not_narrowing(string config, string task)
    {
        // The task allows e.g. src/x/y.cs; the config only allows files directly inside a src folder.
        Assert.False(PathPolicy.IsNarrowing(task, [config]));
    }
}
