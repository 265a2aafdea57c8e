using SandboxRunner.Environments;

namespace SandboxRunner.Tests.Environments;

/// <summary>
/// <c>.dockerignore</c> as the docker CLI of Docker 20.10 applies it to a build context: the last matching pattern
/// wins, a pattern matching a parent folder matches everything under it, <c>!</c> re-includes (issue 21, breach 5).
/// </summary>
public sealed class DockerIgnoreTests
{
    [Theory]
    [InlineData("secrets", "secrets/key.pem", true)]
    [InlineData("secrets/", "secrets/key.pem", true)]
    [InlineData("/secrets", "secrets/key.pem", true)]
    [InlineData("./secrets", "secrets/key.pem", true)]
    [InlineData("secrets", "tools/secrets", false)]
    [InlineData("*.log", "build.log", true)]
    [InlineData("*.log", "logs/build.log", false)]
    [InlineData("**/*.log", "logs/deep/build.log", true)]
    [InlineData("**/*.log", "build.log", true)]
    [InlineData("docs/**", "docs/a/b.md", true)]
    [InlineData("docs/**", "docs", false)]
    [InlineData("t?st", "test", true)]
    [InlineData("t?st", "t/st", false)]
    [InlineData("[ab].txt", "a.txt", true)]
    [InlineData("[ab].txt", "c.txt", false)]
    [InlineData("a\\*b", "a*b", true)]
    [InlineData("a\\*b", "axb", false)]
    [InlineData("# a comment", "# a comment", false)]
    [InlineData("node_modules", "node_modules/x/index.js", true)]
    [InlineData("tools/../secrets", "secrets/key.pem", true)]
    public void One_pattern_excludes_what_docker_excludes(string pattern, string path, bool excluded)
    {
        Assert.Equal(excluded, DockerIgnore.Parse(pattern).Excludes(path));
    }

    [Fact]
    public void An_exception_re_includes_a_file_in_an_excluded_folder_and_a_later_pattern_wins_again()
    {
        var ignore = DockerIgnore.Parse("docs\n!docs/keep.md\ndocs/keep.md.bak\n*.tmp\n!important.tmp\n");

        Assert.True(ignore.Excludes("docs/drop.md"));
        Assert.False(ignore.Excludes("docs/keep.md"));
        Assert.True(ignore.Excludes("docs/keep.md.bak"));
        Assert.True(ignore.Excludes("scratch.tmp"));
        Assert.False(ignore.Excludes("important.tmp"));
        Assert.False(ignore.Excludes("src/app.cs"));
    }

    [Fact]
    public void Blank_lines_spaces_a_byte_order_mark_and_carriage_returns_are_not_patterns()
    {
        var ignore = DockerIgnore.Parse("\uFEFFbuild  \r\n\r\n   \n  out\r\n");

        Assert.True(ignore.Excludes("build/x"));
        Assert.True(ignore.Excludes("out/y"));
        Assert.False(ignore.Excludes("src/z"));
    }
}
