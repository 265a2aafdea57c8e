using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Environments;

/// <summary>
/// The setup key covers everything that could shape a setup image and nothing else (issue 21, breaches 3 and 6):
/// the repository, the lane, the environment image, the commands, the network and the files setup sees, which
/// are exactly those its cache keys match (by default, the ecosystems' manifests and lock files).
/// </summary>
public sealed class SetupKeyTests
{
    private static readonly EnvironmentSpec Node = new() { BaseImage = "node:22", Setup = ["npm ci"], CacheKeys = ["package.json", "package-lock.json"] };

    private static BaseTree Tree(bool onHead = true, params (string Path, string Oid)[] files) => new(
        "0123456789abcdef0123456789abcdef01234567",
        onHead,
        files.ToDictionary(f => f.Path, f => new TrackedEntry("100644", "blob", f.Oid), StringComparer.Ordinal));

    private static readonly BaseTree Repository = Tree(true, ("package.json", "aaa"), ("package-lock.json", "bbb"), ("src/app.js", "ccc"), ("tools/setup.sh", "ddd"));

    private static string Key(EnvironmentSpec spec, BaseTree tree, string scope = "repo-a", string image = "sha256:env") =>
        SetupKey.For(new SetupInputs(scope, image, spec, [], SetupKey.View(tree, spec)), tree.Lane);

    [Fact]
    public void Setup_sees_only_the_files_its_cache_keys_match()
    {
        Assert.Equal(["package-lock.json", "package.json"], SetupKey.View(Repository, Node).Select(f => f.Path));
    }

    [Fact]
    public void Without_cache_keys_setup_sees_the_manifests_and_lock_files_at_any_depth()
    {
        var tree = Tree(true, ("package.json", "1"), ("packages/web/package.json", "2"), ("src/App/App.csproj", "3"), ("Calc.slnx", "4"),
            ("Directory.Packages.props", "5"), ("requirements-dev.txt", "6"), ("go.sum", "7"), ("src/App/Program.cs", "8"), ("README.md", "9"));

        var view = SetupKey.View(tree, new EnvironmentSpec { BaseImage = "x", Setup = ["make deps"] });

        Assert.Equal(
            ["Calc.slnx", "Directory.Packages.props", "go.sum", "package.json", "packages/web/package.json", "requirements-dev.txt", "src/App/App.csproj"],
            view.Select(f => f.Path));
    }

    [Fact]
    public void Two_repositories_with_the_same_setup_and_lock_file_get_different_keys()
    {
        Assert.NotEqual(Key(Node, Repository, scope: "repo-a"), Key(Node, Repository, scope: "repo-b"));
    }

    [Fact]
    public void A_base_outside_the_head_history_gets_a_lane_of_its_own()
    {
        var branch = Repository with { OnHeadHistory = false };

        Assert.Equal("default", Repository.Lane);
        Assert.Equal($"commit:{Repository.Commit}", branch.Lane);
        Assert.NotEqual(Key(Node, Repository), Key(Node, branch));
    }

    [Fact]
    public void A_file_setup_does_not_see_changes_nothing_and_one_it_sees_changes_the_key()
    {
        var otherSource = Tree(true, ("package.json", "aaa"), ("package-lock.json", "bbb"), ("src/app.js", "changed"), ("tools/setup.sh", "changed"));
        var otherLock = Tree(true, ("package.json", "aaa"), ("package-lock.json", "changed"), ("src/app.js", "ccc"), ("tools/setup.sh", "ddd"));

        Assert.Equal(Key(Node, Repository), Key(Node, otherSource));
        Assert.NotEqual(Key(Node, Repository), Key(Node, otherLock));
    }

    [Fact]
    public void The_image_the_commands_and_the_network_are_in_the_key()
    {
        var key = Key(Node, Repository);

        Assert.NotEqual(key, Key(Node, Repository, image: "sha256:other"));
        Assert.NotEqual(key, Key(Node with { Setup = ["npm install"] }, Repository));
        Assert.NotEqual(key, Key(Node with { SetupNetwork = SetupNetwork.Deny }, Repository));
    }

    [Fact]
    public void A_cache_key_that_matches_nothing_is_named_by_its_index()
    {
        var spec = Node with { CacheKeys = ["package.json", "yarn.lock", "src/**"] };

        Assert.Equal([(1, "yarn.lock")], SetupKey.Unmatched(Repository, spec));
        Assert.Empty(SetupKey.Unmatched(Repository, Node with { CacheKeys = null }));
    }

    [Fact]
    public void A_failed_setup_whose_log_names_a_file_it_could_not_see_is_told_which_option_to_extend()
    {
        var view = SetupKey.View(Repository, Node with { Setup = ["sh tools/setup.sh"] });

        var hint = SetupView.Hint("default", view, Repository, ["sh: 0: cannot open tools/setup.sh: No such file"]);

        Assert.Contains("'tools/setup.sh'", hint, StringComparison.Ordinal);
        Assert.Contains("add it (or a glob that matches it) to environment.cache_keys", hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_setup_whose_log_names_no_such_file_still_says_what_it_saw_and_the_option()
    {
        var hint = SetupView.Hint("node", SetupKey.View(Repository, Node), Repository, ["npm ERR! network timeout"]);

        Assert.Contains("only the 2 file(s) environments.node.cache_keys matches (package-lock.json, package.json)", hint, StringComparison.Ordinal);
        Assert.Contains("environments.node.cache_keys", hint, StringComparison.Ordinal);
    }
}
