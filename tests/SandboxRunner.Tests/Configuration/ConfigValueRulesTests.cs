using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>Ranges, types and enum values of <c>.mcp-codex.json</c>: each refusal names the field and the rule.</summary>
public sealed class ConfigValueRulesTests
{
    [Theory]
    [InlineData("default_concurrency", 1)]
    [InlineData("default_concurrency", 8)]
    [InlineData("default_timeout_sec", 10)]
    [InlineData("default_timeout_sec", 1800)]
    [InlineData("max_tasks_per_run", 1)]
    [InlineData("max_tasks_per_run", 50)]
    [InlineData("max_runs_retained", 1)]
    [InlineData("max_runs_retained", 1000)]
    public void Number_at_the_edge_of_its_range_is_accepted(string field, int value)
    {
        Assert.Equal(value, Config.Field(Config.One(field, value.ToString()), field));
    }

    [Theory]
    [InlineData("default_concurrency", 0, "must be from 1 to 8 (got 0)")]
    [InlineData("default_concurrency", 9, "must be from 1 to 8 (got 9)")]
    [InlineData("default_concurrency", -1, "must be from 1 to 8 (got -1)")]
    [InlineData("default_timeout_sec", 9, "must be from 10 to 1800 (got 9)")]
    [InlineData("default_timeout_sec", 1801, "must be from 10 to 1800 (got 1801)")]
    [InlineData("max_tasks_per_run", 0, "must be from 1 to 50 (got 0)")]
    [InlineData("max_tasks_per_run", 51, "must be from 1 to 50 (got 51)")]
    [InlineData("max_runs_retained", 0, "must be from 1 to 1000 (got 0)")]
    [InlineData("max_runs_retained", 1001, "must be from 1 to 1000 (got 1001)")]
    public void Number_just_outside_its_range_is_refused_naming_the_field_and_range(string field, int value, string rule)
    {
        var problem = Config.OnlyProblem(field, value.ToString());

        Assert.Equal(new Problem(field, rule), problem);
    }

    [Fact]
    public void Concurrency_above_8_is_refused_naming_the_field()
    {
        var e = Config.Refusal("""{ "default_concurrency": 9 }""");

        Assert.Equal(".mcp-codex.json: default_concurrency: must be from 1 to 8 (got 9)", e.Message);
    }

    [Theory]
    [InlineData("default_concurrency", "\"2\"", "must be a whole number from 1 to 8")]
    [InlineData("default_concurrency", "2.5", "must be a whole number from 1 to 8")]
    [InlineData("default_concurrency", "2.0", "must be a whole number from 1 to 8")]
    [InlineData("default_concurrency", "1e1", "must be a whole number from 1 to 8")]
    [InlineData("default_concurrency", "null", "must be a whole number from 1 to 8")]
    [InlineData("default_timeout_sec", "true", "must be a whole number from 10 to 1800")]
    [InlineData("default_timeout_sec", "99999999999", "must be a whole number from 10 to 1800")]
    [InlineData("max_tasks_per_run", "[5]", "must be a whole number from 1 to 50")]
    [InlineData("max_runs_retained", "{}", "must be a whole number from 1 to 1000")]
    [InlineData("codex_full_auto", "\"true\"", "must be true or false")]
    [InlineData("codex_full_auto", "1", "must be true or false")]
    [InlineData("codex_ephemeral", "null", "must be true or false")]
    [InlineData("allow_task_policy_widening", "\"false\"", "must be true or false")]
    [InlineData("denied_commands", "\"git push\"", "must be an array of strings")]
    [InlineData("codex_command", "5", "must be a string")]
    [InlineData("codex_command", "null", "must be a string")]
    [InlineData("codex_model", "5", "must be a string")]
    [InlineData("codex_model", "[\"o4-mini\"]", "must be a string")]
    [InlineData("image", "false", "must be a string")]
    [InlineData("codex_version", "0.169", "must be a string")]
    [InlineData("allowed_commands", "\"npm test\"", "must be an array of strings")]
    [InlineData("allowed_commands", "null", "must be an array of strings")]
    [InlineData("default_allowed_paths", "{}", "must be an array of strings")]
    [InlineData("codex_config_overrides", "\"a=b\"", "must be an array of strings")]
    [InlineData("env_passthrough", "\"CODEX_API_KEY\"", "must be an array of strings")]
    public void Value_of_the_wrong_type_is_refused_naming_the_field_and_type(string field, string jsonValue, string rule)
    {
        Assert.Equal(new Problem(field, rule), Config.OnlyProblem(field, jsonValue));
    }

    [Theory]
    [InlineData("allowed_commands", "[1]", "allowed_commands[0]")]
    [InlineData("allowed_commands", "[\"make\", null]", "allowed_commands[1]")]
    [InlineData("env_passthrough", "[\"A\", \"B\", true]", "env_passthrough[2]")]
    [InlineData("codex_config_overrides", "[[\"a=b\"]]", "codex_config_overrides[0]")]
    public void List_item_of_the_wrong_type_is_refused_naming_its_index(string field, string jsonValue, string itemField)
    {
        Assert.Equal(new Problem(itemField, "must be a string"), Config.OnlyProblem(field, jsonValue));
    }

    [Theory]
    [InlineData("conservative", ResourcePolicy.Conservative)]
    [InlineData("normal", ResourcePolicy.Normal)]
    public void Resource_policy_names_are_accepted(string name, ResourcePolicy expected)
    {
        Assert.Equal(expected, Config.One("resource_policy", $"\"{name}\"").ResourcePolicy);
    }

    [Theory]
    [InlineData("deny", NetworkPolicy.Deny)]
    [InlineData("allow", NetworkPolicy.Allow)]
    [InlineData("none", NetworkPolicy.None)]
    public void Network_policy_names_are_accepted(string name, NetworkPolicy expected)
    {
        Assert.Equal(expected, Config.One("network_policy", $"\"{name}\"").NetworkPolicy);
    }

    [Theory]
    [InlineData("read-only", SandboxMode.ReadOnly)]
    [InlineData("workspace-write", SandboxMode.WorkspaceWrite)]
    [InlineData("danger-full-access", SandboxMode.DangerFullAccess)]
    public void Sandbox_mode_names_are_accepted(string name, SandboxMode expected)
    {
        Assert.Equal(expected, Config.One("sandbox_mode", $"\"{name}\"").SandboxMode);
    }

    [Theory]
    [InlineData("resource_policy", "\"Normal\"", "must be one of \"conservative\", \"normal\"")]
    [InlineData("resource_policy", "\"generous\"", "must be one of \"conservative\", \"normal\"")]
    [InlineData("resource_policy", "1", "must be one of \"conservative\", \"normal\"")]
    [InlineData("network_policy", "\"DENY\"", "must be one of \"deny\", \"allow\", \"none\"")]
    [InlineData("network_policy", "\"\"", "must be one of \"deny\", \"allow\", \"none\"")]
    [InlineData("network_policy", "null", "must be one of \"deny\", \"allow\", \"none\"")]
    [InlineData("network_policy", "false", "must be one of \"deny\", \"allow\", \"none\"")]
    [InlineData("sandbox_mode", "\"workspace_write\"", "must be one of \"read-only\", \"workspace-write\", \"danger-full-access\"")]
    [InlineData("sandbox_mode", "\"full-auto\"", "must be one of \"read-only\", \"workspace-write\", \"danger-full-access\"")]
    [InlineData("command_policy", "\"warn\"", "must be one of \"enforce\", \"audit\"")]
    public void Unknown_enum_name_is_refused_listing_the_names(string field, string jsonValue, string rule)
    {
        Assert.Equal(new Problem(field, rule), Config.OnlyProblem(field, jsonValue));
    }

    [Theory]
    [InlineData("enforce", CommandPolicyMode.Enforce)]
    [InlineData("audit", CommandPolicyMode.Audit)]
    public void Command_policy_names_are_accepted(string name, CommandPolicyMode expected)
    {
        Assert.Equal(expected, Config.One("command_policy", $"\"{name}\"").CommandPolicy);
    }

    [Fact]
    public void Command_policy_is_enforce_by_default()
    {
        Assert.Equal(CommandPolicyMode.Enforce, RunnerConfig.Default.CommandPolicy);
    }

    [Theory]
    [InlineData("codex_full_auto", true)]
    [InlineData("codex_full_auto", false)]
    [InlineData("codex_ephemeral", true)]
    [InlineData("codex_ephemeral", false)]
    [InlineData("allow_task_policy_widening", true)]
    [InlineData("allow_task_policy_widening", false)]
    public void Booleans_are_accepted(string field, bool value)
    {
        Assert.Equal(value, Config.Field(Config.One(field, value ? "true" : "false"), field));
    }
}
