using SandboxRunner.Configuration;
using SandboxRunner.Environments;

namespace SandboxRunner.Tests.Configuration;

/// <summary>The <c>environment</c> section and the <c>environments</c> map: what they hold, and each rule naming its field path.</summary>
public sealed class ConfigEnvironmentTests
{
    [Fact]
    public void An_environment_with_a_base_image_is_read_with_its_setup_network_and_cache_keys()
    {
        var config = Config.One("environment", """
            { "base_image": "node:22-bookworm", "setup": ["npm ci", "npm run build"], "setup_network": "deny", "cache_keys": ["package-lock.json", "packages/*/package.json"] }
            """);

        var environment = Assert.IsType<EnvironmentSpec>(config.Environment);
        Assert.Equal("node:22-bookworm", environment.BaseImage);
        Assert.Null(environment.Dockerfile);
        Assert.Equal(["npm ci", "npm run build"], environment.Setup);
        Assert.Equal(SetupNetwork.Deny, environment.SetupNetwork);
        Assert.Equal(["package-lock.json", "packages/*/package.json"], environment.CacheKeys);
    }

    [Fact]
    public void An_environment_that_names_only_its_image_sets_up_nothing_over_the_open_network_and_keys_on_the_default_manifests()
    {
        var environment = Config.One("environment", """{ "base_image": "python:3.12" }""").Environment!;

        Assert.Empty(environment.Setup);
        Assert.Equal(SetupNetwork.Allow, environment.SetupNetwork);
        Assert.Null(environment.CacheKeys);
        Assert.Same(SetupKey.DefaultCacheKeys, SetupKey.CacheKeysOf(environment));
    }

    [Fact]
    public void Empty_cache_keys_mean_setup_sees_no_file_not_the_defaults()
    {
        var environment = Config.One("environment", """{ "base_image": "python:3.12", "setup": ["true"], "cache_keys": [] }""").Environment!;

        Assert.Empty(SetupKey.CacheKeysOf(environment));
    }

    [Fact]
    public void An_environment_may_name_a_dockerfile_in_the_repository_instead_of_an_image()
    {
        var environment = Config.One("environment", """{ "dockerfile": "tools/env.Dockerfile" }""").Environment!;

        Assert.Equal("tools/env.Dockerfile", environment.Dockerfile);
        Assert.Null(environment.BaseImage);
    }

    [Fact]
    public void No_environment_is_the_default()
    {
        Assert.Null(RunnerConfig.Default.Environment);
        Assert.Empty(RunnerConfig.Default.Environments);
    }

    [Fact]
    public void An_environment_with_both_base_image_and_dockerfile_is_refused_naming_both()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "node:22", "dockerfile": "env.Dockerfile" }""");

        Assert.Equal("environment", problem.Field);
        Assert.Contains("both base_image and dockerfile", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void An_environment_with_neither_base_image_nor_dockerfile_is_refused_naming_both()
    {
        var problem = Config.OnlyProblem("environment", """{ "setup": ["npm ci"] }""");

        Assert.Equal("environment", problem.Field);
        Assert.Contains("one of base_image", problem.Rule, StringComparison.Ordinal);
        Assert.Contains("dockerfile", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_base_image_that_is_no_image_reference_is_refused_by_the_image_rule_alone()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "Node 22" }""");

        Assert.Equal(new Problem("environment.base_image", ConfigLoader.ImageReference("Node 22")!), problem);
    }

    [Theory]
    [InlineData("../env.Dockerfile", "must not contain a '..' segment")]
    [InlineData("tools/../../env.Dockerfile", "must not contain a '..' segment")]
    [InlineData("/etc/env.Dockerfile", "must be relative to the repository root")]
    [InlineData("C:env.Dockerfile", "must be relative to the repository root")]
    [InlineData(" ", "must not be empty")]
    public void A_dockerfile_outside_the_repository_is_refused(string path, string rule)
    {
        var problem = Config.OnlyProblem("environment", $$"""{ "dockerfile": "{{path}}" }""");

        Assert.Equal(new Problem("environment.dockerfile", rule), problem);
    }

    [Fact]
    public void A_blank_setup_command_is_refused_naming_its_index()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "node:22", "setup": ["npm ci", "  "] }""");

        Assert.Equal(new Problem("environment.setup[1]", "must not be empty"), problem);
    }

    [Fact]
    public void Fifty_setup_commands_are_accepted_and_fifty_one_refused()
    {
        Assert.Equal(50, Config.One("environment", WithSetup(Enumerable.Repeat("\"true\"", 50))).Environment!.Setup.Count);

        var problem = Config.OnlyProblem("environment", WithSetup(Enumerable.Repeat("\"true\"", 51)));

        Assert.Equal(new Problem("environment.setup", "may list at most 50 entries (got 51)"), problem);
    }

    [Fact]
    public void A_setup_command_of_8_KiB_is_accepted_and_one_byte_more_is_refused()
    {
        Assert.Single(Config.One("environment", WithSetup([$"\"{new string('x', 8192)}\""])).Environment!.Setup);

        var problem = Config.OnlyProblem("environment", WithSetup([$"\"{new string('x', 8193)}\""]));

        Assert.Equal("environment.setup[0]", problem.Field);
        Assert.StartsWith("must be at most 8192 bytes (8 KiB)", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_setup_commands_size_is_counted_in_utf8_bytes()
    {
        // 4,097 two-byte characters: under 8,192 characters, over 8,192 bytes.
        var problem = Config.OnlyProblem("environment", WithSetup([$"\"{new string('é', 4097)}\""]));

        Assert.Equal("environment.setup[0]", problem.Field);
    }

    [Theory]
    [InlineData("../package-lock.json", "must not contain a '..' segment")]
    [InlineData("/package-lock.json", "must be relative to the repository root")]
    [InlineData("", "must not be empty")]
    public void A_cache_key_outside_the_repository_is_refused(string glob, string rule)
    {
        var problem = Config.OnlyProblem("environment", $$"""{ "base_image": "node:22", "cache_keys": ["{{glob}}"] }""");

        Assert.Equal(new Problem("environment.cache_keys[0]", rule), problem);
    }

    [Fact]
    public void More_than_fifty_cache_keys_are_refused()
    {
        var keys = string.Join(',', Enumerable.Range(0, 51).Select(i => $"\"f{i}.lock\""));

        var problem = Config.OnlyProblem("environment", $$"""{ "base_image": "node:22", "cache_keys": [{{keys}}] }""");

        Assert.Equal(new Problem("environment.cache_keys", "may list at most 50 entries (got 51)"), problem);
    }

    [Fact]
    public void A_setup_network_other_than_allow_or_deny_is_refused()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "node:22", "setup_network": "none" }""");

        Assert.Equal(new Problem("environment.setup_network", "must be one of \"allow\", \"deny\""), problem);
    }

    [Fact]
    public void An_unknown_key_inside_the_environment_is_refused_listing_the_known_ones()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_image": "node:22", "setup_commands": ["npm ci"] }""");

        Assert.Equal(new Problem("environment.setup_commands", "is not a known field; the fields are base_image, dockerfile, setup, setup_network, runtime, cache_keys, verify, verify_timeout_sec, verify_inputs"), problem);
    }

    [Theory]
    [InlineData("\"node:22\"")]
    [InlineData("null")]
    [InlineData("[]")]
    public void An_environment_that_is_not_an_object_is_refused(string value)
    {
        var problem = Config.OnlyProblem("environment", value);

        Assert.Equal("environment", problem.Field);
        Assert.StartsWith("must be an object", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void Named_environments_are_read_by_name()
    {
        var config = Config.One("environments", """
            { "node": { "base_image": "node:22-bookworm", "setup": ["npm ci"] }, "dotnet-9.0_sdk": { "dockerfile": "env/dotnet.Dockerfile" } }
            """);

        Assert.Equal(["dotnet-9.0_sdk", "node"], config.Environments.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["npm ci"], config.Environments["node"].Setup);
        Assert.Equal("env/dotnet.Dockerfile", config.Environments["dotnet-9.0_sdk"].Dockerfile);
    }

    [Theory]
    [InlineData("default", "'default' is the name the environment section is known by")]
    [InlineData("none", "'none' means the plain Codex image")]
    public void A_reserved_name_is_refused_saying_what_it_means(string name, string reason)
    {
        var problem = Config.OnlyProblem("environments", $$"""{ "{{name}}": { "base_image": "node:22" } }""");

        Assert.Equal($"environments.{name}", problem.Field);
        Assert.StartsWith("is reserved: ", problem.Rule, StringComparison.Ordinal);
        Assert.Contains(reason, problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("node 22")]
    [InlineData("node/22")]
    [InlineData("n\u00f6de")]
    [InlineData("a1234567890123456789012345678901234567890123456789012345678901234")]
    public void A_name_that_is_not_1_to_64_letters_digits_dots_underscores_or_dashes_is_refused(string name)
    {
        var problem = Config.OnlyProblem("environments", $$"""{ "{{name}}": { "base_image": "node:22" } }""");

        Assert.Equal(new Problem($"environments.{name}", "must be a name of 1-64 letters, digits, '.', '_' or '-'"), problem);
    }

    [Fact]
    public void A_name_of_64_characters_is_accepted()
    {
        var name = new string('n', 64);

        Assert.Contains(name, Config.One("environments", $$"""{ "{{name}}": { "base_image": "node:22" } }""").Environments.Keys);
    }

    [Fact]
    public void A_problem_inside_a_named_environment_names_its_whole_path()
    {
        var problem = Config.OnlyProblem("environments", """{ "node": { "base_image": "node:22", "setup": [""] } }""");

        Assert.Equal(new Problem("environments.node.setup[0]", "must not be empty"), problem);
    }

    [Fact]
    public void A_named_environment_follows_the_one_image_source_rule()
    {
        var problem = Config.OnlyProblem("environments", """{ "node": { "setup": ["npm ci"] } }""");

        Assert.Equal("environments.node", problem.Field);
        Assert.Contains("one of base_image", problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"environment\": { \"base_image\": \"node:22\" }")]
    [InlineData("\"environments\": { \"node\": { \"base_image\": \"node:22\" } }")]
    public void An_image_together_with_an_environment_is_where_the_codex_binary_comes_from(string environment)
    {
        var config = ConfigLoader.Parse($$"""{ "image": "team/codex:1", {{environment}} }""");

        Assert.Equal("team/codex:1", config.Image);
    }

    [Fact]
    public void An_image_of_null_goes_with_an_environment()
    {
        var config = ConfigLoader.Parse("""{ "image": null, "environment": { "base_image": "node:22" } }""");

        Assert.Null(config.Image);
        Assert.NotNull(config.Environment);
    }

    [Fact]
    public void An_edited_environment_is_a_changed_field()
    {
        var before = Config.One("environments", """{ "node": { "base_image": "node:22", "setup": ["npm ci"] } }""");
        var after = Config.One("environments", """{ "node": { "base_image": "node:22", "setup": ["npm install"] } }""");

        Assert.Equal(["environments"], ConfigFile.ChangedFields(before, after));
        Assert.Empty(ConfigFile.ChangedFields(before, Config.One("environments", """{ "node": { "setup": ["npm ci"], "base_image": "node:22" } }""")));
    }

    private static string WithSetup(IEnumerable<string> commands) => $$"""{ "base_image": "node:22", "setup": [{{string.Join(',', commands)}}] }""";
}
