using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>Paths built under a root stay under it, whatever the parts contain.</summary>
public sealed class ContainedPathTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "contained-path-root");

    [Fact]
    public void Parts_are_combined_under_the_root()
    {
        Assert.Equal(Path.Combine(Root, "worktrees", "run-1", "task-a"), ContainedPath.Combine(Root, "worktrees", "run-1", "task-a"));
    }

    [Theory]
    [InlineData("a/b/../c", "a/c")]
    [InlineData("./a", "a")]
    [InlineData("a/./b", "a/b")]
    [InlineData("a//b", "a/b")]
    [InlineData("a/b/..", "a")]
    [InlineData("..a", "..a")]
    [InlineData("a..", "a..")]
    public void Parts_are_normalized_and_kept_when_they_stay_inside(string part, string expected)
    {
        Assert.Equal(Path.Combine(Root, expected), ContainedPath.Combine(Root, part));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("/etc")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../x")]
    [InlineData("a/b/../../../x")]
    [InlineData("../contained-path-root-evil/x")]
    [InlineData("../contained-path-root")]
    public void Parts_that_leave_the_root_are_refused(string part)
    {
        Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root, part));
    }

    [Theory]
    [InlineData(".")]
    [InlineData("a/..")]
    [InlineData("./.")]
    [InlineData("")]
    public void Root_itself_is_refused(string part)
    {
        Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root, part));
    }

    [Fact]
    public void Root_without_parts_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root));
    }

    [Fact]
    public void Absolute_later_part_is_refused_even_after_a_safe_one()
    {
        Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root, "worktrees", "/etc", "passwd"));
    }

    [Fact]
    public void Dot_dot_spread_over_several_parts_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root, "a", "..", ".."));
    }

    [Fact]
    public void Refusal_names_the_path_and_the_root()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ContainedPath.Combine(Root, "../x"));

        Assert.Contains($"'{Path.Combine(Path.GetTempPath(), "x")}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{Root}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Root_with_a_trailing_separator_is_the_same_root()
    {
        Assert.Equal(Path.Combine(Root, "a"), ContainedPath.Combine(Root + Path.DirectorySeparatorChar, "a"));
    }

    [Fact]
    public void Root_given_with_dot_dot_is_resolved_first()
    {
        var roundabout = Path.Combine(Root, "sub", "..");

        Assert.Equal(Path.Combine(Root, "a"), ContainedPath.Combine(roundabout, "a"));
    }

    [Fact]
    public void Relative_root_is_resolved_against_the_current_directory()
    {
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "rel-root", "a"), ContainedPath.Combine("rel-root", "a"));
    }

    [Fact]
    public void Filesystem_root_contains_its_children()
    {
        Assert.Equal("/a", ContainedPath.Combine("/", "a"));
    }
}
