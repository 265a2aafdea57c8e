using SandboxRunner.Host;

namespace SandboxRunner.Tests.Host;

/// <summary>
/// The command line in process: help from each verb's own settings, and a bad command line refused before anything
/// starts, as one line naming the argument and the fix with exit 2. Nothing here reaches Docker or git.
/// </summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("run")]
    [InlineData("runs")]
    [InlineData("show")]
    [InlineData("apply")]
    [InlineData("cancel")]
    [InlineData("doctor")]
    [InlineData("image build")]
    [InlineData("image ls")]
    [InlineData("image prune")]
    public async Task Help_on_a_verb_starts_with_its_usage_line_and_exits_0(string verb)
    {
        var (code, output, errors) = await RunAsync([.. verb.Split(' '), "--help"]);

        Assert.Equal(0, code);
        Assert.StartsWith($"usage: sandbox-runner {verb}", output, StringComparison.Ordinal);
        Assert.Contains("--repo PATH", output, StringComparison.Ordinal);
        Assert.Equal("", errors);
    }

    [Fact]
    public async Task Help_on_run_lists_each_option_of_its_settings_with_what_it_does_and_the_exit_codes()
    {
        var (_, output, _) = await RunAsync(["run", "--help"]);

        Assert.StartsWith("usage: sandbox-runner run TASKS_FILE ", output, StringComparison.Ordinal);
        foreach (var option in new[] { "--junit FILE", "--markdown FILE", "--json", "--apply", "--run-id ID", "--base-ref REF", "--concurrency N", "--resource-policy P", "--dry-run", "--verbose" })
        {
            Assert.Contains($"\n  {option} ", output, StringComparison.Ordinal);
        }

        Assert.Contains("exit codes: 0 every task succeeded", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_without_a_verb_says_that_no_verb_serves_MCP_and_lists_every_command_and_the_exit_codes()
    {
        var (code, output, _) = await RunAsync(["--help"]);

        Assert.Equal(0, code);
        Assert.StartsWith("usage: sandbox-runner [--repo PATH] [--verbose]           serve MCP over stdio", output, StringComparison.Ordinal);
        foreach (var command in new[] { "run TASKS_FILE", "runs", "show RUN [TASK]", "apply RUN TASK", "cancel RUN", "doctor", "image build", "image ls", "image prune" })
        {
            Assert.Contains($"\n  {command} ", output, StringComparison.Ordinal);
        }

        Assert.Contains("130 interrupted", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "run", "tasks.json", "--concurrency", "many" }, "run: --concurrency: must be a whole number from 1 to 8 (got 'many')")]
    [InlineData(new[] { "apply", "r", "t", "--attempt", "9" }, "apply: --attempt: must be a whole number from 1 to 8 (got '9')")]
    [InlineData(new[] { "cancel", "r", "--wait=5000" }, "cancel: --wait: must be a whole number of seconds from 0 to 3600 (got '5000')")]
    [InlineData(new[] { "run", "tasks.json", "--junk" }, "run: Unknown option 'junk'")]
    [InlineData(new[] { "run" }, "run: Command 'run' is missing required argument 'TASKS_FILE'")]
    [InlineData(new[] { "show", "r", "t", "extra" }, "show: Could not match 'extra' with an argument")]
    [InlineData(new[] { "runs", "--json=yes" }, "runs: Flags cannot be assigned a value")]
    [InlineData(new[] { "image", "prune", "--junit", "x" }, "image prune: Unknown option 'junit'")]
    public async Task A_bad_argument_of_a_verb_is_one_line_naming_it_and_the_verbs_help_with_exit_2(string[] args, string message)
    {
        var (code, output, errors) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var verb = message[..message.IndexOf(':', StringComparison.Ordinal)];
        Assert.Equal($"sandbox-runner: {message}; see `sandbox-runner {verb} --help`\n", errors);
    }

    [Fact]
    public async Task An_option_of_a_verb_given_without_one_says_that_no_verb_serves_MCP_with_exit_2()
    {
        var (code, _, errors) = await RunAsync(["--json"]);

        Assert.Equal(2, code);
        Assert.Equal("sandbox-runner: Unknown option 'json' (without a command sandbox-runner serves MCP); see `sandbox-runner --help`\n", errors);
    }

    [Fact]
    public async Task An_unknown_verb_lists_the_commands_with_exit_2()
    {
        var (code, _, errors) = await RunAsync(["deploy"]);

        Assert.Equal(2, code);
        Assert.Equal("sandbox-runner: Unknown command 'deploy'; the commands are run, runs, show, apply, cancel, doctor, image build, image ls and image prune (none serves MCP)\n", errors);
    }

    [Theory]
    [InlineData("image")]
    [InlineData("image", "tag")]
    public async Task Image_without_build_ls_or_prune_names_the_three_with_exit_2(params string[] args)
    {
        var (code, _, errors) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Equal("sandbox-runner: image: the image commands are `image build`, `image ls` and `image prune`; see `sandbox-runner image --help`\n", errors);
    }

    [Theory]
    [InlineData(new[] { "--repo", "/r", "run", "t.json" }, new[] { "run", "--repo", "/r", "t.json" })]
    [InlineData(new[] { "-v", "--repo", "run", "runs" }, new[] { "runs", "-v", "--repo", "run" })]
    [InlineData(new[] { "--verbose", "image", "ls", "--json" }, new[] { "image", "ls", "--verbose", "--json" })]
    [InlineData(new[] { "runs", "--repo", "/r" }, new[] { "runs", "--repo", "/r" })]
    [InlineData(new[] { "--repo", "/r" }, new[] { "--repo", "/r" })]
    [InlineData(new[] { "--repo", "/r", "deploy" }, new[] { "--repo", "/r", "deploy" })]
    public void Options_given_before_the_verb_move_behind_it_and_a_repo_named_like_a_verb_stays_the_repo(string[] args, string[] expected)
    {
        Assert.Equal(expected, HostApp.VerbFirst(args));
    }

    [Theory]
    [InlineData(new string[0], null, false)]
    [InlineData(new[] { "--repo", "/r" }, "/r", false)]
    [InlineData(new[] { "--repo=/r", "-v" }, "/r", true)]
    [InlineData(new[] { "--verbose", "--repo", "/r" }, "/r", true)]
    public void The_servers_own_command_line_is_read_without_the_parser(string[] args, string? repo, bool verbose)
    {
        var settings = HostApp.ServerArguments(args);

        Assert.NotNull(settings);
        Assert.Equal(repo, settings.Repo);
        Assert.Equal(verbose, settings.Verbose);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("--json")]
    [InlineData("runs")]
    [InlineData("--repo")]
    [InlineData("--repo", "--verbose")]
    [InlineData("--repo", "/a", "--repo", "/b")]
    [InlineData("-v", "-v")]
    [InlineData("--repo", "/r", "deploy")]
    public void Anything_else_goes_to_the_parser_which_explains_or_runs_it(params string[] args)
    {
        Assert.Null(HostApp.ServerArguments(args));
    }

    private static async Task<(int Code, string Output, string Errors)> RunAsync(string[] args)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var errors = new StringWriter { NewLine = "\n" };
        var code = await HostApp.RunAsync(args, errors, output);
        return (code, output.ToString(), errors.ToString());
    }
}
