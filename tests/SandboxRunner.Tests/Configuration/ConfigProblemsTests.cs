using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>How a bad <c>.mcp-codex.json</c> is refused: every problem at once, each naming its field and rule.</summary>
public sealed class ConfigProblemsTests
{
    [Theory]
    [InlineData("concurrency")]
    [InlineData("Default_Concurrency")]
    [InlineData("defaultConcurrency")]
    [InlineData("")]
    public void Unknown_field_is_refused_naming_the_field(string field)
    {
        var problem = Config.OnlyProblem(field, "2");

        Assert.Equal(field, problem.Field);
        Assert.Contains("; the fields are allowed_commands, command_policy, default_allowed_paths, ", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mistyped_top_level_field_is_refused_with_the_field_it_was_meant_to_be()
    {
        var e = Config.Refusal("""{ "default_concurency": 2 }""");

        Assert.Equal(
            ".mcp-codex.json: default_concurency: is not a known field (did you mean \"default_concurrency\"?); the fields are " + string.Join(", ", ConfigLoader.KnownFields),
            e.Message);
    }

    [Theory]
    [InlineData("defaultConcurrency", "default_concurrency")]
    [InlineData("Default_Concurrency", "default_concurrency")]
    [InlineData("concurrency", null)]
    [InlineData("alowed_commands", "allowed_commands")]
    [InlineData("allowed_command", "allowed_commands")]
    [InlineData("default_allowed_path", "default_allowed_paths")]
    [InlineData("netwrok_policy", "network_policy")]
    [InlineData("command-policy", "command_policy")]
    [InlineData("xyz", null)]
    public void The_suggestion_is_the_known_field_one_typo_away(string given, string? meant)
    {
        var rule = Config.OnlyProblem(given, "2").Rule;

        Assert.StartsWith(meant is null ? "is not a known field; " : $"is not a known field (did you mean \"{meant}\"?); ", rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mistyped_field_inside_an_environment_is_refused_with_the_field_it_was_meant_to_be()
    {
        var problem = Config.OnlyProblem("environment", """{ "base_imag": "node:22" }""");

        Assert.Equal(new Problem("environment.base_imag", "is not a known field (did you mean \"base_image\"?); the fields are base_image, dockerfile, setup, setup_network, runtime, cache_keys, verify, verify_timeout_sec, verify_inputs"), problem);
    }

    [Fact]
    public void Unknown_field_refusal_lists_every_known_field()
    {
        var problem = Config.OnlyProblem("concurency", "2");

        Assert.All(ConfigLoader.KnownFields, known => Assert.Contains(known, problem.Rule, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("{ \"default_concurrency\": }")]
    [InlineData("{ default_concurrency: 2 }")]
    [InlineData("{ 'default_concurrency': 2 }")]
    [InlineData("{} {}")]
    [InlineData("not json")]
    public void Invalid_json_is_refused_as_a_whole_file(string json)
    {
        var problem = Assert.Single(Config.Refusal(json).Problems);

        Assert.Equal("(file)", problem.Field);
        Assert.StartsWith("must be valid JSON (", problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{ \"default_concurrency\": 2 }]")]
    [InlineData("2")]
    [InlineData("\"config\"")]
    [InlineData("null")]
    [InlineData("true")]
    public void Root_that_is_not_an_object_is_refused(string json)
    {
        Assert.Equal(new Problem("(file)", "must be a JSON object"), Assert.Single(Config.Refusal(json).Problems));
    }

    [Fact]
    public void Several_problems_are_all_reported_in_file_order()
    {
        var e = Config.Refusal("""
            {
              "default_concurrency": 9,
              "network_policy": "open",
              "colour": "blue",
              "max_tasks_per_run": 10,
              "env_passthrough": ["HOME", "1A"],
              "codex_full_auto": "yes"
            }
            """);

        Assert.Equal(6, e.Problems.Count);
        Assert.Equal(
            ["default_concurrency", "network_policy", "colour", "env_passthrough[0]", "env_passthrough[1]", "codex_full_auto"],
            e.Problems.Select(p => p.Field));
    }

    [Fact]
    public void Message_of_several_problems_counts_them_and_lists_each_with_its_rule()
    {
        var e = Config.Refusal("""{ "default_concurrency": 0, "codex_full_auto": "yes" }""");

        Assert.Equal(
            ".mcp-codex.json has 2 problems:\n- default_concurrency: must be from 1 to 8 (got 0)\n- codex_full_auto: must be true or false",
            e.Message);
    }

    [Fact]
    public void Message_of_one_problem_names_the_source_field_and_rule()
    {
        var e = Config.Refusal("""{ "max_runs_retained": 1001 }""");

        Assert.Equal(".mcp-codex.json: max_runs_retained: must be from 1 to 1000 (got 1001)", e.Message);
        Assert.Equal(".mcp-codex.json", e.Source);
    }

    [Fact]
    public void Source_given_to_parse_names_the_refusal()
    {
        var e = Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse("""{ "image": "" }""", "inline config"));

        Assert.Equal("inline config", e.Source);
        Assert.StartsWith("inline config: image: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_message_names_the_file_and_the_rule()
    {
        var e = Config.Refusal("{");

        Assert.StartsWith(".mcp-codex.json: (file): must be valid JSON (", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_reads_as_field_then_rule()
    {
        Assert.Equal("image: must be a string", new Problem("image", "must be a string").ToString());
    }
}
