using SandboxRunner.Configuration;
using SandboxRunner.Testcontainers;

// What a team's test process does, up to the moment it is killed: a runner on the repository given as the
// argument, under network_policy deny (so the run has a network and an egress proxy as well as the task's
// container), one scripted task that sleeps. It prints the run id once the run is started and then waits
// for stdin to close or for the kill; it never disposes the runner, as a killed process never does.
if (args is not [var repository])
{
    Console.Error.WriteLine("usage: module-process REPOSITORY");
    return 2;
}

var runner = new CodexTaskRunnerBuilder()
    .WithRepository(repository)
    .WithScriptedModel()
    .WithNetworkPolicy(NetworkPolicy.Deny)
    .Build();
await runner.StartAsync();
var runId = await runner.StartRunAsync([CodexTask.Scripted("sleeps", "Wait.", AgentStep.Sleep(TimeSpan.FromMinutes(10)))]);
Console.WriteLine(runId);
await Console.In.ReadToEndAsync();
return 0;
