using System.Text.Json;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Contract;

/// <summary>Reading a tool's arguments: what the record's schema says is what is enforced, every problem named at once.</summary>
public sealed class ArgumentReaderTests
{
    private static IReadOnlyList<Problem> Problems<T>(string json) => ArgumentReader.Check(typeof(T), JsonDocument.Parse(json).RootElement);

    [Fact]
    public void A_task_without_task_id_or_prompt_is_refused_naming_both()
    {
        var problems = Problems<RunRequest>("""{ "tasks": [{ "timeout_sec": 60 }] }""");

        Assert.Equal(["tasks[0].task_id: is required", "tasks[0].prompt: is required"], problems.Select(p => p.ToString()));
    }

    [Fact]
    public void Null_for_an_optional_argument_is_refused_like_any_other_wrong_type()
    {
        var problems = Problems<RunRequest>("""{ "run_id": null, "tasks": [{ "task_id": "a", "prompt": "p", "timeout_sec": null }] }""");

        Assert.Equal(
            ["run_id: must be a string, or be left out (null is not accepted)", "tasks[0].timeout_sec: must be a whole number, or be left out (null is not accepted)"],
            problems.Select(p => p.ToString()));
    }

    [Theory]
    [InlineData("30")]
    [InlineData("30.0")]
    [InlineData("3e1")]
    public void A_whole_number_is_read_however_JSON_writes_it(string timeout)
    {
        var request = ArgumentReader.Read<RunRequest>(JsonDocument.Parse($$"""{ "tasks": [{ "task_id": "a", "prompt": "p", "timeout_sec": {{timeout}} }] }""").RootElement, "test");

        Assert.Equal(30, request.Tasks![0].TimeoutSec);
    }

    [Theory]
    [InlineData("\"30\"")]
    [InlineData("30.5")]
    [InlineData("true")]
    [InlineData("99999999999")]
    public void A_value_that_is_no_whole_number_is_refused_for_a_whole_number(string timeout)
    {
        var problem = Assert.Single(Problems<RunRequest>($$"""{ "tasks": [{ "task_id": "a", "prompt": "p", "timeout_sec": {{timeout}} }] }"""));

        Assert.Equal(new Problem("tasks[0].timeout_sec", "must be a whole number"), problem);
    }

    [Fact]
    public void A_misspelt_field_is_refused_with_the_field_it_meant()
    {
        var problem = Assert.Single(Problems<RunRequest>("""{ "tasks": [{ "task_id": "a", "promt": "p", "prompt": "p" }] }"""));

        Assert.Equal("tasks[0].promt", problem.Field);
        Assert.StartsWith("is not a known field (did you mean \"prompt\"?); the fields are task_id, prompt, ", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_rule_on_a_list_holds_for_each_item_and_names_the_item()
    {
        var problems = Problems<RunRequest>("""{ "tasks": [{ "task_id": "a", "prompt": "p", "allowed_paths": ["src/**", "/etc/**", "a/../b"], "allowed_commands": ["make", " "] }] }""");

        Assert.Equal(
            [
                "tasks[0].allowed_paths[1]: must be relative to the repository root",
                "tasks[0].allowed_paths[2]: must not contain a '..' segment",
                "tasks[0].allowed_commands[1]: must not be empty",
            ],
            problems.Select(p => p.ToString()));
    }

    [Theory]
    [InlineData("""{ "concurrency": 9, "tasks": [{ "task_id": "a", "prompt": "p" }] }""", "concurrency: must be from 1 to 8 (got 9)")]
    [InlineData("""{ "resource_policy": "turbo", "tasks": [{ "task_id": "a", "prompt": "p" }] }""", "resource_policy: must be \"conservative\" or \"normal\"")]
    [InlineData("""{ "tasks": [] }""", "tasks: must list at least one task")]
    [InlineData("""{ "base_ref": "--upload-pack=x", "tasks": [{ "task_id": "a", "prompt": "p" }] }""", "base_ref: must not start with '-'")]
    [InlineData("""{ "environment": "a b", "tasks": [{ "task_id": "a", "prompt": "p" }] }""", "environment: must be 1-64 letters, digits, '.', '_' or '-': 'default', 'none' or a name under the config's environments")]
    [InlineData("""{ "tasks": [{ "task_id": "a..b", "prompt": "p" }] }""", "tasks[0].task_id: " + SandboxRunner.Policy.Ids.Rule)]
    [InlineData("""{ "tasks": [{ "task_id": "a", "prompt": " \n" }] }""", "tasks[0].prompt: must not be empty")]
    [InlineData("""{ "tasks": {} }""", "tasks: must be an array")]
    [InlineData("""{ "tasks": [7] }""", "tasks[0]: must be an object with task_id, prompt, allowed_paths, allowed_commands, timeout_sec, environment, verify, verify_timeout_sec, verify_inputs, attempts")]
    public void Each_broken_rule_names_its_field(string json, string expected)
    {
        Assert.Equal(expected, Assert.Single(Problems<RunRequest>(json)).ToString());
    }

    [Fact]
    public void Every_problem_of_one_call_is_reported_at_once()
    {
        var problems = Problems<RunRequest>("""{ "concurrency": 0, "dry_run": "yes", "tasks": [{ "task_id": "", "prompt": "" }, 3] }""");

        Assert.Equal(["concurrency", "dry_run", "tasks[0].task_id", "tasks[0].prompt", "tasks[1]"], problems.Select(p => p.Field));
    }

    [Fact]
    public void Arguments_built_in_code_are_held_to_the_same_rules()
    {
        var problems = ArgumentReader.Check(new RunRequest { Concurrency = 0, Tasks = [new TaskRequest { TaskId = "a" }] });

        Assert.Equal(["tasks[0].prompt: is required", "concurrency: must be from 1 to 8 (got 0)"], problems.Select(p => p.ToString()));
    }

    [Fact]
    public void A_string_that_is_no_text_is_refused_not_thrown()
    {
        var problem = Assert.Single(Problems<RunReference>("""{ "run_id": "\ud800" }"""));

        Assert.Equal(new Problem("run_id", "must hold only valid text"), problem);
    }

    [Fact]
    public void Arguments_that_are_no_object_are_refused()
    {
        Assert.Equal(new Problem("(arguments)", "must be a JSON object"), Assert.Single(Problems<RunReference>("[]")));
    }

    [Fact]
    public void Read_throws_every_problem_with_the_source_named()
    {
        var e = Assert.Throws<InvalidInputException>(() => ArgumentReader.Read<TaskReference>(JsonDocument.Parse("{}").RootElement, "apply_codex_result arguments"));

        Assert.Equal("apply_codex_result arguments has 2 problems:\n- run_id: is required\n- task_id: is required", e.Message);
    }
}
