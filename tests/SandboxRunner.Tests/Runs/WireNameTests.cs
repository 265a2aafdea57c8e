using SandboxRunner.Platform;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Runs;

/// <summary>One way to write an enum as text: the name its JSON carries, so messages and results agree.</summary>
public sealed class WireNameTests
{
    [Fact]
    public void A_value_is_written_as_the_name_its_json_carries()
    {
        Assert.Equal("timed_out", WireName.Of(VerificationStatus.TimedOut));
        Assert.Equal("api_key", WireName.Of(SandboxRunner.Auth.CredentialKind.ApiKey));
        Assert.Equal("attempt finished", WireName.Of(TaskPhase.AttemptFinished));
    }

    [Theory]
    [InlineData(typeof(TaskStatus))]
    [InlineData(typeof(TaskState))]
    [InlineData(typeof(RunState))]
    [InlineData(typeof(CancelRoute))]
    [InlineData(typeof(VerificationStatus))]
    public void Every_member_of_a_serialised_enum_reads_in_text_as_it_does_in_json(Type type)
    {
        var of = typeof(WireName).GetMethod(nameof(WireName.Of))!.MakeGenericMethod(type);
        foreach (var value in Enum.GetValues(type))
        {
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize(value).Trim('"'), (string)of.Invoke(null, [value])!);
        }
    }

    [Fact]
    public void Progress_phases_keep_the_wire_strings_callers_read()
    {
        Assert.Equal(
            ["queued", "environment", "started", "command", "verifying", "attempt finished", "finished"],
            Enum.GetValues<TaskPhase>().Select(WireName.Of));
    }

    [Fact]
    public void Enums_written_only_as_text_keep_their_strings()
    {
        Assert.Equal(["none", "api_key", "chatgpt"], Enum.GetValues<SandboxRunner.Auth.CredentialKind>().Select(WireName.Of));
        Assert.Equal(["none", "built", "reused"], Enum.GetValues<SandboxRunner.Environments.SetupState>().Select(WireName.Of));
    }

    [Fact]
    public void A_phase_tells_where_the_task_stands()
    {
        Assert.Equal(TaskState.Queued, new TaskProgress("t", TaskPhase.Queued, "").Standing);
        Assert.Equal(TaskState.Finished, new TaskProgress("t", TaskPhase.Finished, "").Standing);
        Assert.All(new[] { TaskPhase.Environment, TaskPhase.Started, TaskPhase.Command, TaskPhase.Verifying, TaskPhase.AttemptFinished },
            phase => Assert.Equal(TaskState.Running, new TaskProgress("t", phase, "").Standing));
    }
}
