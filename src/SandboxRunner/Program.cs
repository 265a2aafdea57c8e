using SandboxRunner.Host.Commands;
using SandboxRunner.Host.Composition;
using SandboxRunner.Host.Mcp;

var options = CommandLine.Parse(args);
if (options.Error is not null)
{
    await Console.Error.WriteLineAsync($"sandbox-runner: {options.Error}\n\n{Usage.For(options.Verb)}");
    return ExitCodes.BadInput;
}

if (options.Help)
{
    await Console.Error.WriteLineAsync(Usage.For(options.Verb));
    return ExitCodes.Success;
}

return options.Verb switch
{
    "run" => await RunCommand.ExecuteAsync(options),
    "runs" => await RunsCommand.ExecuteAsync(options),
    "show" => await ShowCommand.ExecuteAsync(options),
    "apply" => await ApplyCommand.ExecuteAsync(options),
    "cancel" => await CancelCommand.ExecuteAsync(options),
    "doctor" => await DoctorCommand.ExecuteAsync(options),
    "image build" => await ImageCommand.ExecuteAsync(options),
    "image ls" => await ImageCommand.ListAsync(options),
    "image prune" => await ImageCommand.PruneAsync(options),
    _ => await McpServer.RunAsync(options.Settings),
};
