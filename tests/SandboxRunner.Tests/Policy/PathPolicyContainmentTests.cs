using SandboxRunner.Policy;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Policy;

/// <summary>Paths and links that would change git itself, or look like something they are not, after an apply.</summary>
public sealed class PathPolicyContainmentTests : IDisposable
{
    private readonly TempDirectory _tree = new();

    public void Dispose() => _tree.Dispose();

    private void Link(string path, string target)
    {
        var full = Path.Combine(_tree.Path, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.CreateSymbolicLink(full, target);
    }

    private IReadOnlyList<Violation> Check(string path, params string[] patterns) =>
        new PathPolicy(patterns.Length == 0 ? ["**"] : patterns).Check(_tree.Path, [path]);

    [Fact]
    public void A_symlink_to_the_git_hooks_folder_is_a_violation()
    {
        Link("src/hooks", "../.git/hooks");

        var violation = Assert.Single(Check("src/hooks"));
        Assert.Equal((ViolationKind.GitDirectory, "src/hooks"), (violation.Kind, violation.Path));
        Assert.Contains(".git/hooks", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_to_the_git_config_is_a_violation()
    {
        Link("src/gitcfg", "../.git/config");

        Assert.Equal(ViolationKind.GitDirectory, Assert.Single(Check("src/gitcfg")).Kind);
    }

    [Fact]
    public void A_symlink_into_git_through_another_link_is_a_violation()
    {
        Link("src/dir", "..");
        Link("src/cfg", "dir/.GIT/config");

        Assert.Contains(Check("src/cfg"), v => v.Kind == ViolationKind.GitDirectory);
    }

    [Fact]
    public void A_symlink_to_a_path_the_task_may_not_change_is_a_violation()
    {
        Link("src/ci", "../.github/workflows/build.yml");

        var violation = Assert.Single(Check("src/ci", "src/**"));
        Assert.Equal(ViolationKind.PathNotAllowed, violation.Kind);
        Assert.Contains(".github/workflows/build.yml", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_within_the_allowed_paths_is_fine()
    {
        Link("src/alias.txt", "app.txt");

        Assert.Empty(Check("src/alias.txt", "src/**"));
    }

    [Theory]
    [InlineData(".g\u200cit/config")]
    [InlineData("src/a\u200bb.txt")]
    [InlineData("src/\u202etxt.exe")]
    [InlineData("src/\ufeffx")]
    public void A_path_with_an_invisible_format_character_is_a_violation(string path)
    {
        Assert.Equal(ViolationKind.UnsafePath, Assert.Single(Check(path)).Kind);
    }

    [Theory]
    [InlineData("\uff0egit/config")]
    [InlineData(".\uff47\uff49\uff54/hooks/pre-commit")]
    public void A_segment_that_reads_as_git_once_normalised_is_a_violation(string path)
    {
        Assert.Equal(ViolationKind.UnsafePath, Assert.Single(Check(path)).Kind);
    }

    [Theory]
    [InlineData(".git./config")]
    [InlineData("git~1/config")]
    public void A_git_folder_spelled_as_other_filesystems_read_it_is_a_violation(string path)
    {
        Assert.Equal(ViolationKind.GitDirectory, Assert.Single(Check(path)).Kind);
    }

    [Theory]
    [InlineData("src/.gitattributes")]
    [InlineData(".gitattributes")]
    [InlineData(".gitmodules")]
    public void A_changed_git_control_file_is_flagged(string path)
    {
        Assert.Equal(ViolationKind.GitControlFile, Assert.Single(Check(path)).Kind);
    }

    [Fact]
    public void Accented_names_are_ordinary_paths()
    {
        Assert.Empty(Check("src/caf\u00e9.txt"));
    }
}
