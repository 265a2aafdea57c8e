using SandboxRunner.Configuration;
using SandboxRunner.Verification;

namespace SandboxRunner.Tests.Verification;

/// <summary>Which changed paths the verify commands depend on: the default globs, a level's own, and what the commands name.</summary>
public sealed class ChangedInputsTests
{
    private static VerifyPlan Plan(params string[] commands) => new(commands, TimeSpan.FromMinutes(10), VerifyInputs.Defaults);

    [Theory]
    [InlineData("package.json")]
    [InlineData("packages/api/package.json")]
    [InlineData("package-lock.json")]
    [InlineData(".npmrc")]
    [InlineData("jest.config.js")]
    [InlineData("vitest.config.ts")]
    [InlineData(".mocharc.yml")]
    [InlineData("karma.conf.js")]
    [InlineData("test.js")]
    [InlineData("test/semver.test.js")]
    [InlineData("src/__tests__/a.js")]
    [InlineData("src/parser.spec.ts")]
    [InlineData("Makefile")]
    [InlineData("pytest.ini")]
    [InlineData("tox.ini")]
    [InlineData("setup.cfg")]
    [InlineData("tests/conftest.py")]
    [InlineData("pyproject.toml")]
    [InlineData("src/Api/Api.csproj")]
    [InlineData("Directory.Build.props")]
    [InlineData("pkg/thing_test.go")]
    public void The_default_inputs_cover_what_common_test_runners_read(string path)
    {
        Assert.Equal([path], ChangedInputs.Find([path], Plan("npm test")));
    }

    [Theory]
    [InlineData("src/app.js")]
    [InlineData("README.md")]
    [InlineData("docs/guide.md")]
    [InlineData("src/latest.js")]
    public void Ordinary_source_files_are_not_inputs(string path)
    {
        Assert.Empty(ChangedInputs.Find([path], Plan("make check")));
    }

    [Fact]
    public void Files_and_folders_the_verify_commands_name_are_inputs()
    {
        var changed = new[] { "scripts/ci/test.sh", "checks/unit/a.sh", "checks/other.sh", "lint.cfg", "src/app.js" };

        var inputs = ChangedInputs.Find(changed, Plan("bash ./scripts/ci/test.sh", "run-checks checks/unit --config=lint.cfg"));

        Assert.Equal(["checks/unit/a.sh", "lint.cfg", "scripts/ci/test.sh"], inputs);
    }

    [Fact]
    public void A_glob_a_verify_command_names_is_an_input_glob()
    {
        Assert.Equal(["specs/a.check"], ChangedInputs.Find(["specs/a.check", "src/b.check"], Plan("node --test specs/*.check")));
    }

    [Fact]
    public void Words_that_cannot_be_paths_in_the_tree_name_nothing()
    {
        var (paths, globs) = ChangedInputs.NamedBy(["curl https://example.com/x", "cat /etc/passwd ../outside ~/home $HOME/x"]);

        Assert.DoesNotContain(paths, p => p.Contains("://", StringComparison.Ordinal) || p.StartsWith('/') || p.Contains("..", StringComparison.Ordinal) || p.StartsWith('~') || p.Contains('$'));
        Assert.Empty(globs);
    }

    [Fact]
    public void A_levels_own_inputs_replace_the_defaults_but_the_commands_named_files_stay()
    {
        var plan = new VerifyPlan(["sh run.sh"], TimeSpan.FromMinutes(1), ["spec/**"]);

        Assert.Equal(["run.sh", "spec/a.rb"], ChangedInputs.Find(["package.json", "run.sh", "spec/a.rb"], plan));
    }

    [Fact]
    public void Nothing_is_an_input_without_verify_commands()
    {
        Assert.Empty(ChangedInputs.Find(["package.json"], VerifyPlan.None));
    }

    [Fact]
    public void Nearest_level_wins_for_each_field_and_the_defaults_fill_the_rest()
    {
        var plan = VerifyPlan.Resolve(
        [
            new VerifyLevel(null, 30, null),
            new VerifyLevel(["npm test"], null, null),
            new VerifyLevel(["make test"], 900, ["only/**"]),
            new VerifyLevel([], VerifyPlan.DefaultTimeoutSec, VerifyInputs.Defaults),
        ]);

        Assert.Equal(["npm test"], plan.Commands);
        Assert.Equal(TimeSpan.FromSeconds(30), plan.CommandTimeout);
        Assert.Equal(["only/**"], plan.Inputs);
    }

    [Fact]
    public void An_empty_list_at_a_nearer_level_turns_verification_off()
    {
        var plan = VerifyPlan.Resolve([new VerifyLevel([], null, null), new VerifyLevel(["npm test"], null, null)]);

        Assert.False(plan.Any);
    }
}
