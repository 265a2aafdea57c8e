using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

/// <summary>Which environment each task of a plan runs in: the task's name, else the run's, else <c>default</c> when the config has one.</summary>
public sealed class RunPlannerEnvironmentTests
{
    private static readonly EnvironmentSpec Section = new() { BaseImage = "node:22-bookworm", Setup = ["npm ci"] };
    private static readonly EnvironmentSpec Dotnet = new() { BaseImage = "mcr.microsoft.com/dotnet/sdk:9.0" };
    private static readonly EnvironmentSpec Python = new() { Dockerfile = "env/python.Dockerfile" };

    private static readonly RunnerConfig WithEnvironments = RunnerConfig.Default with
    {
        Environment = Section,
        Environments = new Dictionary<string, EnvironmentSpec> { ["dotnet"] = Dotnet, ["python"] = Python },
    };

    [Fact]
    public async Task Without_an_environment_section_an_unnamed_task_runs_in_the_plain_codex_image()
    {
        var task = Assert.Single((await PlanAsync(RunnerConfig.Default, new RunRequest { Tasks = [Ask("a")] })).Tasks);

        Assert.Null(task.EnvironmentName);
        Assert.Null(task.Environment);
    }

    [Fact]
    public async Task With_an_environment_section_an_unnamed_task_runs_in_default()
    {
        var task = Assert.Single((await PlanAsync(WithEnvironments, new RunRequest { Tasks = [Ask("a")] })).Tasks);

        Assert.Equal(RunnerConfig.DefaultEnvironment, task.EnvironmentName);
        Assert.Same(Section, task.Environment);
    }

    [Fact]
    public async Task The_runs_environment_applies_to_every_task_that_names_none()
    {
        var plan = await PlanAsync(WithEnvironments, new RunRequest { Environment = "dotnet", Tasks = [Ask("a"), Ask("b")] });

        Assert.All(plan.Tasks, t => Assert.Equal(("dotnet", Dotnet), (t.EnvironmentName, t.Environment)));
    }

    [Fact]
    public async Task A_tasks_environment_wins_over_the_runs()
    {
        var plan = await PlanAsync(WithEnvironments, new RunRequest { Environment = "dotnet", Tasks = [Ask("a") with { Environment = "python" }, Ask("b")] });

        Assert.Equal(("python", Python), (plan.Tasks[0].EnvironmentName, plan.Tasks[0].Environment));
        Assert.Equal(("dotnet", Dotnet), (plan.Tasks[1].EnvironmentName, plan.Tasks[1].Environment));
    }

    [Fact]
    public async Task None_runs_a_task_in_the_plain_codex_image_although_the_config_has_a_default()
    {
        var plan = await PlanAsync(WithEnvironments, new RunRequest { Environment = "dotnet", Tasks = [Ask("a") with { Environment = "none" }] });

        Assert.Null(plan.Tasks[0].EnvironmentName);
        Assert.Null(plan.Tasks[0].Environment);
    }

    [Fact]
    public async Task A_task_may_name_default_to_leave_the_runs_environment()
    {
        var plan = await PlanAsync(WithEnvironments, new RunRequest { Environment = "none", Tasks = [Ask("a") with { Environment = "default" }] });

        Assert.Equal((RunnerConfig.DefaultEnvironment, Section), (plan.Tasks[0].EnvironmentName, plan.Tasks[0].Environment));
    }

    [Fact]
    public async Task Default_without_an_environment_section_is_refused_saying_how_to_define_it()
    {
        var problem = await RefusalAsync(RunnerConfig.Default, new RunRequest { Environment = "default", Tasks = [Ask("a")] });

        Assert.Equal(new Problem("environment", "'default' is not defined; add an `environment` section to .mcp-codex.json"), problem);
    }

    [Fact]
    public async Task A_tasks_default_without_an_environment_section_is_refused_at_the_task()
    {
        var problem = await RefusalAsync(RunnerConfig.Default, new RunRequest { Tasks = [Ask("a") with { Environment = "default" }] });

        Assert.Equal("tasks[0].environment", problem.Field);
    }

    [Fact]
    public async Task An_unknown_name_is_refused_naming_the_field_and_every_known_name()
    {
        var problem = await RefusalAsync(WithEnvironments, new RunRequest { Tasks = [Ask("a"), Ask("b") with { Environment = "ruby" }] });

        Assert.Equal(
            new Problem("tasks[1].environment", "'ruby' is not an environment of .mcp-codex.json (known: default, none, dotnet, python); name one of those, or add it under environments"),
            problem);
    }

    [Fact]
    public async Task The_known_names_leave_out_default_when_the_config_has_no_environment_section()
    {
        var problem = await RefusalAsync(RunnerConfig.Default, new RunRequest { Tasks = [Ask("a") with { Environment = "node" }] });

        Assert.Contains("(known: none)", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_run_environment_is_refused_once_at_the_run_not_at_each_task()
    {
        var problem = await RefusalAsync(WithEnvironments, new RunRequest { Environment = "ruby", Tasks = [Ask("a"), Ask("b")] });

        Assert.Equal("environment", problem.Field);
    }

    [Fact]
    public async Task Names_are_matched_exactly()
    {
        var problem = await RefusalAsync(WithEnvironments, new RunRequest { Environment = "Dotnet", Tasks = [Ask("a")] });

        Assert.StartsWith("'Dotnet' is not an environment", problem.Rule, StringComparison.Ordinal);
    }

    private static async Task<RunPlan> PlanAsync(RunnerConfig config, RunRequest request)
    {
        using var bed = await CreateAsync();
        return await RunPlanner.PlanAsync(request, config, bed.Host, _ => false, TimeProvider.System, CancellationToken.None);
    }

    private static async Task<Problem> RefusalAsync(RunnerConfig config, RunRequest request) =>
        Assert.Single((await Assert.ThrowsAsync<InvalidInputException>(() => PlanAsync(config, request))).Problems);
}
