using SandboxRunner.Policy;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Policy;

/// <summary>Symlinks left in a task's tree: those that lead out of the tree are violations, in-tree ones are not.</summary>
public sealed class PathPolicySymlinkTests : IDisposable
{
    private readonly TempDirectory _tree = new();

    public void Dispose() => _tree.Dispose();

    /// <summary>Creates a symlink at <paramref name="path"/> (relative to the tree) whose link text is <paramref name="target"/>.</summary>
    private void Link(string path, string target)
    {
        var full = Path.Combine(_tree.Path, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.CreateSymbolicLink(full, target);
    }

    private void Write(string path)
    {
        var full = Path.Combine(_tree.Path, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, "x");
    }

    private IReadOnlyList<Violation> Check(string path, params string[] patterns) =>
        new PathPolicy(patterns.Length == 0 ? ["**"] : patterns).Check(_tree.Path, [path]);

    private static void AssertEscape(IReadOnlyList<Violation> violations, string path)
    {
        var violation = Assert.Single(violations);
        Assert.Equal(ViolationKind.SymlinkEscape, violation.Kind);
        Assert.Equal(path, violation.Path);
    }

    [Fact]
    public void A_symlink_to_etc_passwd_is_an_escape()
    {
        Link("src/pw", "/etc/passwd");

        AssertEscape(Check("src/pw", "src/**"), "src/pw");
    }

    [Fact]
    public void An_escape_rule_names_the_link_target()
    {
        Link("src/pw", "/etc/passwd");

        Assert.Equal("is a symlink to '/etc/passwd', outside the worktree", Assert.Single(Check("src/pw")).Rule);
    }

    [Fact]
    public void A_symlink_to_etc_passwd_outside_the_patterns_is_both_not_allowed_and_an_escape()
    {
        Link("pw", "/etc/passwd");

        var violations = Check("pw", "src/**");

        Assert.Equal([ViolationKind.PathNotAllowed, ViolationKind.SymlinkEscape], violations.Select(v => v.Kind));
        Assert.All(violations, v => Assert.Equal("pw", v.Path));
    }

    [Fact]
    public void A_dangling_absolute_symlink_is_an_escape()
    {
        Link("src/x", "/nonexistent/sandbox-runner-target");

        AssertEscape(Check("src/x"), "src/x");
    }

    [Theory]
    [InlineData("src/out", "../../outside")]
    [InlineData("src/out", "../..")]
    [InlineData("out", "..")]
    [InlineData("out", "../x")]
    [InlineData("src/out", "./../a/../../x")]
    [InlineData("src/a/b/out", "../../../../etc/passwd")]
    public void A_relative_symlink_that_climbs_out_of_the_tree_is_an_escape(string path, string target)
    {
        Link(path, target);

        AssertEscape(Check(path), path);
    }

    [Theory]
    [InlineData("a", "b.txt")]
    [InlineData("src/a", "b.txt")]
    [InlineData("dir/l", "../src/x")]
    [InlineData("src/up", "..")]
    [InlineData("src/self", ".")]
    [InlineData("src/a/b/l", "../../../README.md")]
    [InlineData("src/l", "./x/../y")]
    public void An_in_tree_relative_symlink_is_no_escape(string path, string target)
    {
        Write("b.txt");
        Write("src/b.txt");
        Write("src/x");
        Write("README.md");
        Link(path, target);

        Assert.Empty(Check(path));
    }

    [Fact]
    public void A_dangling_in_tree_symlink_is_no_escape()
    {
        Link("src/l", "missing/deeper/file");

        Assert.Empty(Check("src/l"));
    }

    [Fact]
    public void A_symlink_through_a_regular_file_is_no_escape()
    {
        Write("src/a.txt");
        Link("src/l", "a.txt/x");

        Assert.Empty(Check("src/l"));
    }

    [Fact]
    public void A_symlink_to_an_in_tree_directory_is_no_escape()
    {
        Directory.CreateDirectory(Path.Combine(_tree.Path, "docs"));
        Link("src/d", "../docs");

        Assert.Empty(Check("src/d"));
    }

    [Fact]
    public void A_chain_of_links_ending_at_an_absolute_path_is_an_escape()
    {
        Link("src/l1", "l2");
        Link("src/l2", "/etc");

        AssertEscape(Check("src/l1"), "src/l1");
    }

    [Fact]
    public void A_link_to_a_link_in_a_subfolder_that_climbs_out_is_an_escape()
    {
        Link("l1", "sub/l2");
        Link("sub/l2", "../../..");

        AssertEscape(Check("l1"), "l1");
    }

    [Fact]
    public void A_link_through_an_in_tree_directory_link_is_resolved_from_that_directory()
    {
        // src/x -> d/l, src/d -> ../sub, sub/l -> ../..: src/x is sub/../.., one above the tree.
        Directory.CreateDirectory(Path.Combine(_tree.Path, "sub"));
        Link("src/d", "../sub");
        Link("sub/l", "../..");
        Link("src/x", "d/l");

        AssertEscape(Check("src/x"), "src/x");
    }

    [Fact]
    public void A_chain_of_in_tree_links_is_no_escape()
    {
        Write("src/real.txt");
        Link("src/l1", "l2");
        Link("src/l2", "sub/l3");
        Link("src/sub/l3", "../real.txt");

        Assert.Empty(Check("src/l1"));
    }

    [Fact]
    public async Task A_symlink_loop_does_not_hang()
    {
        Link("l1", "l2");
        Link("l2", "l1");

        var check = Task.Run(() => Check("l1"));
        var finished = await Task.WhenAny(check, Task.Delay(TimeSpan.FromSeconds(30)));

        Assert.Same(check, finished);
    }

    [Fact]
    public void A_symlink_loop_is_not_an_escape()
    {
        Link("l1", "l2");
        Link("l2", "l1");

        Assert.Empty(Check("l1"));
    }

    [Fact]
    public void A_symlink_to_itself_is_not_an_escape()
    {
        Link("src/self", "self");

        Assert.Empty(Check("src/self"));
    }

    [Fact]
    public void A_regular_file_is_no_escape()
    {
        Write("src/a.cs");

        Assert.Empty(Check("src/a.cs"));
    }

    [Fact]
    public void A_symlink_under_git_is_reported_as_a_git_directory_change_only()
    {
        Link(".git/hooks/pre-commit", "/etc/passwd");

        var violation = Assert.Single(Check(".git/hooks/pre-commit"));

        Assert.Equal(ViolationKind.GitDirectory, violation.Kind);
    }
}
