// A blueprint NetworkProvider backed by an in-process @ton/sandbox chain, so the blueprint
// scripts run unchanged in tests. Interactive prompts are refused: scripts must take arguments.
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, Contract } from '@ton/core';
import { NetworkProvider, UIProvider } from '@ton/blueprint';

export function sandboxProvider(blockchain: Blockchain, wallet: SandboxContract<TreasuryContract>, output: string[]): NetworkProvider {
    const ui: UIProvider = {
        write: (message) => void output.push(message),
        prompt: async (message) => {
            throw new Error(`script asked interactively: ${message}`);
        },
        inputAddress: async (message) => {
            throw new Error(`script asked interactively: ${message}`);
        },
        input: async (message) => {
            throw new Error(`script asked interactively: ${message}`);
        },
        choose: async (message) => {
            throw new Error(`script asked interactively: ${message}`);
        },
        setActionPrompt: () => undefined,
        clearActionPrompt: () => undefined,
    };
    const isDeployed = async (address: Address) => (await blockchain.getContract(address)).accountState?.type === 'active';
    return {
        network: () => 'custom',
        explorer: () => 'tonviewer',
        sender: () => wallet.getSender(),
        api: () => {
            throw new Error('no API client in the sandbox');
        },
        provider: (address: Address, init?: { code?: Cell; data?: Cell }) =>
            blockchain.provider(address, init?.code && init?.data ? { code: init.code, data: init.data } : undefined),
        isContractDeployed: isDeployed,
        waitForDeploy: async (address: Address) => {
            if (!(await isDeployed(address))) throw new Error(`contract at ${address.toString()} was not deployed`);
        },
        waitForLastTransaction: async () => undefined,
        getContractState: (address: Address) => blockchain.provider(address).getState(),
        getConfig: async () => {
            throw new Error('no config reader in the sandbox');
        },
        deploy: async () => {
            throw new Error('scripts deploy through the contract wrappers');
        },
        open: <T extends Contract>(contract: T) => blockchain.openContract(contract),
        ui: () => ui,
    } as NetworkProvider;
}
