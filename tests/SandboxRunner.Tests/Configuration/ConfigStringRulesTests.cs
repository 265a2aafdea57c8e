using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>The rules on string values and list entries of <c>.mcp-codex.json</c>.</summary>
public sealed class ConfigStringRulesTests
{
    private const string EnvNameRule = "each entry must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
    private const string KeyValueRule = "each entry must be 'key=value' with a non-empty key and value";
    private const string KeyValueLineRule = "each entry must be 'key=value' on one line with no spaces in the key";
    private const string ImageRule = "must be a Docker image reference such as 'name:tag' (lowercase, no spaces)";
    private const string VersionRule = "must be a version such as '0.169.0'";

    [Theory]
    [InlineData("A")]
    [InlineData("_")]
    [InlineData("_PRIVATE")]
    [InlineData("lower_case")]
    [InlineData("CODEX_API_KEY")]
    [InlineData("A1_B2")]
    public void Env_passthrough_accepts_variable_names(string name)
    {
        Assert.Equal([name], Config.One("env_passthrough", $"[\"{name}\"]").EnvPassthrough);
    }

    [Theory]
    [InlineData("1A")]
    [InlineData("A-B")]
    [InlineData("A B")]
    [InlineData("A=B")]
    [InlineData("")]
    [InlineData("$HOME")]
    [InlineData("É")]
    public void Env_passthrough_refuses_what_is_not_a_variable_name(string name)
    {
        Assert.Equal(new Problem("env_passthrough[0]", EnvNameRule), Config.OnlyProblem("env_passthrough", $"[\"{name}\"]"));
    }

    [Theory]
    [InlineData("CODEX_API_KEY\\n")]
    [InlineData("HOME\\n")]
    public void Env_passthrough_refuses_a_name_with_a_trailing_newline(string escapedName)
    {
        Assert.Equal(new Problem("env_passthrough[0]", EnvNameRule), Config.OnlyProblem("env_passthrough", $"[\"{escapedName}\"]"));
    }

    [Theory]
    [InlineData("HOME")]
    [InlineData("CODEX_HOME")]
    [InlineData("PATH")]
    [InlineData("USER")]
    public void Env_passthrough_refuses_names_the_runner_sets_itself(string name)
    {
        Assert.Equal(
            new Problem("env_passthrough[0]", $"'{name}' is set by the runner and cannot be passed through"),
            Config.OnlyProblem("env_passthrough", $"[\"{name}\"]"));
    }

    [Fact]
    public void Reserved_names_are_matched_case_sensitively()
    {
        Assert.Equal(["home", "Path"], Config.One("env_passthrough", """["home", "Path"]""").EnvPassthrough);
    }

    [Fact]
    public void Env_passthrough_refusal_names_the_index_of_each_bad_entry()
    {
        var e = Config.Refusal("""{ "env_passthrough": ["OK", "1A", "ALSO_OK", "HOME"] }""");

        Assert.Equal(["env_passthrough[1]", "env_passthrough[3]"], e.Problems.Select(p => p.Field));
    }

    [Theory]
    [InlineData("a=b")]
    [InlineData("model_reasoning_effort=high")]
    [InlineData("sandbox_workspace_write.network_access=true")]
    [InlineData("a=b=c")]
    [InlineData("a=b c")]
    [InlineData("shell_environment_policy.set={FOO=\\\"bar\\\"}")]
    public void Config_override_key_value_is_accepted(string escapedEntry)
    {
        Assert.Single(Config.One("codex_config_overrides", $"[\"{escapedEntry}\"]").CodexConfigOverrides);
    }

    [Fact]
    public void Config_overrides_keep_their_order()
    {
        Assert.Equal(["b=2", "a=1", "c=3"], Config.One("codex_config_overrides", """["b=2", "a=1", "c=3"]""").CodexConfigOverrides);
    }

    [Theory]
    [InlineData("=b", KeyValueRule)]
    [InlineData("a=", KeyValueRule)]
    [InlineData("=", KeyValueRule)]
    [InlineData("ab", KeyValueRule)]
    [InlineData("", KeyValueRule)]
    [InlineData("a b=c", KeyValueLineRule)]
    [InlineData(" a=b", KeyValueLineRule)]
    [InlineData("a\\t=b", KeyValueLineRule)]
    [InlineData("a=b\\nc=d", KeyValueLineRule)]
    public void Config_override_that_is_not_one_key_value_is_refused(string escapedEntry, string rule)
    {
        Assert.Equal(new Problem("codex_config_overrides[0]", rule), Config.OnlyProblem("codex_config_overrides", $"[\"{escapedEntry}\"]"));
    }

    [Theory]
    [InlineData("src/**")]
    [InlineData("package.json")]
    [InlineData("docs/*.md")]
    [InlineData("./lib/**")]
    [InlineData("a..b/c")]
    public void Allowed_path_relative_to_the_repository_is_accepted(string pattern)
    {
        Assert.Equal([pattern], Config.One("default_allowed_paths", $"[\"{pattern}\"]").DefaultAllowedPaths);
    }

    [Theory]
    [InlineData("/etc/**", "must be relative to the repository root")]
    [InlineData("/", "must be relative to the repository root")]
    [InlineData("\\\\server\\\\share", "must be relative to the repository root")]
    [InlineData("C:/Windows", "must be relative to the repository root")]
    [InlineData("../x", "must not contain a '..' segment")]
    [InlineData("..", "must not contain a '..' segment")]
    [InlineData("src/../../x", "must not contain a '..' segment")]
    [InlineData("src\\\\..\\\\..\\\\x", "must not contain a '..' segment")]
    [InlineData("", "must not be empty")]
    [InlineData("   ", "must not be empty")]
    public void Allowed_path_outside_the_repository_is_refused(string escapedPattern, string rule)
    {
        Assert.Equal(new Problem("default_allowed_paths[0]", rule), Config.OnlyProblem("default_allowed_paths", $"[\"{escapedPattern}\"]"));
    }

    [Fact]
    public void Allowed_commands_refuse_a_blank_entry()
    {
        Assert.Equal(new Problem("allowed_commands[1]", "must not be empty"), Config.OnlyProblem("allowed_commands", """["make", " "]"""));
    }

    [Fact]
    public void Denied_commands_refuse_a_blank_entry()
    {
        Assert.Equal(new Problem("denied_commands[0]", "must not be empty"), Config.OnlyProblem("denied_commands", """[""]"""));
    }

    [Fact]
    public void Codex_model_null_means_no_model()
    {
        Assert.Null(Config.One("codex_model", "null").CodexModel);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"  \"")]
    public void Codex_model_must_not_be_blank(string jsonValue)
    {
        Assert.Equal(new Problem("codex_model", "must not be empty"), Config.OnlyProblem("codex_model", jsonValue));
    }

    [Theory]
    [InlineData("codex")]
    [InlineData("/usr/local/bin/codex")]
    public void Codex_command_one_word_is_accepted(string command)
    {
        Assert.Equal(command, Config.One("codex_command", $"\"{command}\"").CodexCommand);
    }

    [Theory]
    [InlineData("")]
    [InlineData("codex exec")]
    [InlineData(" codex")]
    [InlineData("codex\\t")]
    public void Codex_command_with_spaces_or_blank_is_refused(string escapedCommand)
    {
        Assert.Equal(
            new Problem("codex_command", "must be one non-empty word with no spaces"),
            Config.OnlyProblem("codex_command", $"\"{escapedCommand}\""));
    }

    [Fact]
    public void Image_null_means_the_built_image()
    {
        Assert.Null(Config.One("image", "null").Image);
    }

    [Theory]
    [InlineData("codex")]
    [InlineData("sandbox-runner/codex:0.169.0")]
    [InlineData("ghcr.io/example/codex:1.2")]
    [InlineData("localhost:5000/codex:latest")]
    [InlineData("codex@sha256:0123456789abcdef")]
    [InlineData("registry.example.com/team/codex_image:v1.0-rc.1")]
    public void Image_reference_is_accepted(string image)
    {
        Assert.Equal(image, Config.One("image", $"\"{image}\"").Image);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Codex:1")]
    [InlineData("codex:Latest")]
    [InlineData("codex 1")]
    [InlineData(":tag")]
    [InlineData("-codex")]
    [InlineData(".codex")]
    [InlineData("/codex")]
    [InlineData("codex;rm")]
    public void Image_that_is_not_a_reference_is_refused(string image)
    {
        Assert.Equal(new Problem("image", ImageRule), Config.OnlyProblem("image", $"\"{image}\""));
    }

    [Fact]
    public void Image_with_a_trailing_newline_is_refused()
    {
        Assert.Equal(new Problem("image", ImageRule), Config.OnlyProblem("image", "\"codex:1\\n\""));
    }

    [Theory]
    [InlineData("0.169.0")]
    [InlineData("10.20.30")]
    [InlineData("1.2.3-alpha.1")]
    [InlineData("0.170.0-rc-2")]
    public void Codex_version_is_accepted(string version)
    {
        Assert.Equal(version, Config.One("codex_version", $"\"{version}\"").CodexVersion);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0.169")]
    [InlineData("v0.169.0")]
    [InlineData("latest")]
    [InlineData("0.169.0 ")]
    [InlineData("1.2.3-")]
    [InlineData("1.2.3+build")]
    [InlineData("1.2.3-a b")]
    public void Codex_version_that_is_not_a_version_is_refused(string version)
    {
        Assert.Equal(new Problem("codex_version", VersionRule), Config.OnlyProblem("codex_version", $"\"{version}\""));
    }

    [Fact]
    public void Codex_version_with_a_trailing_newline_is_refused()
    {
        Assert.Equal(new Problem("codex_version", VersionRule), Config.OnlyProblem("codex_version", "\"0.169.0\\n\""));
    }
}
